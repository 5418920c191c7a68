"""bench/scenarios/interviews.py: S4's pure checks (lost autosaves, late writes, the p99 that counts
missing replies). No servers, no timing."""

from __future__ import annotations

from bench.scenarios.interviews import (
    Save,
    answer_text,
    late_accepted,
    late_stored,
    lost_autosaves,
    percentile_with_missing,
    start_offsets,
)


def test_an_acked_revision_kept_or_superseded_is_not_lost() -> None:
    """Given acks for revisions 1 and 2 of one answer, when the database keeps revision 3 (or
    revision 2 with the text sent), then nothing is lost."""
    acked = [((1, 10), 1, "a"), ((1, 10), 2, "ab")]
    assert lost_autosaves(acked, {(1, 10): (3, "abc")}) == []
    assert lost_autosaves(acked, {(1, 10): (2, "ab")}) == []


def test_an_acked_revision_older_stored_changed_or_missing_is_lost() -> None:
    """Given an ack for revision 2, when the database keeps revision 1, or revision 2 with another
    text, or nothing, then that save counts as lost, with what is stored."""
    acked = [((1, 10), 2, "ab")]
    assert lost_autosaves(acked, {(1, 10): (1, "a")}) == [{"key": [1, 10], "revision": 2, "stored": 1}]
    assert lost_autosaves(acked, {(1, 10): (2, "other")}) == [{"key": [1, 10], "revision": 2, "stored": 2}]
    assert lost_autosaves(acked, {}) == [{"key": [1, 10], "revision": 2, "stored": None}]


def test_late_accepted_counts_acks_sent_or_stamped_at_the_deadline() -> None:
    """Given a session whose deadline is t=100, when saves are acked before it, sent at or after it,
    or stamped after it, then only the last two are late writes; refusals and other sessions never are."""
    on_time = Save(1, 10, 1, "a", sent=99.0, acked=True, saved_at=99.5)
    sent_late = Save(1, 10, 2, "ab", sent=100.0, acked=True, saved_at=99.9)
    stamped_late = Save(1, 10, 3, "abc", sent=99.9, acked=True, saved_at=100.2)
    refused = Save(1, 10, 4, "abcd", sent=101.0, error="deadline_passed")
    other_session = Save(2, 10, 1, "a", sent=500.0, acked=True, saved_at=500.0)
    late = late_accepted([on_time, sent_late, stamped_late, refused, other_session], {1: 100.0})
    assert late == [sent_late, stamped_late]


def test_late_stored_compares_the_stored_revision_with_the_first_late_one() -> None:
    """Given revisions 1-2 sent before a deadline and 3-4 after it, when the database keeps
    revision 2, then no late write is stored; when it keeps 3 or 4, one is."""
    saves = [Save(1, 10, r, "x", sent=t) for r, t in ((1, 90.0), (2, 95.0), (3, 100.0), (4, 105.0))]
    assert late_stored(saves, {(1, 10): (2, "x")}, {1: 100.0}) == 0
    assert late_stored(saves, {(1, 10): (3, "x")}, {1: 100.0}) == 1
    assert late_stored(saves, {(1, 10): (4, "x")}, {1: 100.0}) == 1
    assert late_stored(saves, {(1, 10): (4, "x")}, {}) == 0  # no deadline moved: nothing is late


def test_percentile_with_missing_replies() -> None:
    """Missing replies rank above every sample: the p99 is None once they reach its rank."""
    samples = [float(v) for v in range(1, 100)]  # 99 samples
    assert percentile_with_missing(samples, 0, 99) == 99.0
    assert percentile_with_missing(samples, 1, 99) == 99.0  # rank 99 of 100 is still a sample
    assert percentile_with_missing(samples, 2, 99) is None
    assert percentile_with_missing([], 0, 99) is None
    assert percentile_with_missing([], 3, 50) is None


def test_answer_text_grows_with_the_revision_and_is_marked() -> None:
    """Each revision's text is longer than the last (up to the cap) and names its session and revision."""
    first, second = answer_text(7, 1), answer_text(7, 2)
    assert first.startswith("[[S7 r1]] ")
    assert second.startswith("[[S7 r2]] ")
    assert len(second) > len(first)
    assert len(answer_text(7, 1000, cap=300)) <= len("[[S7 r1000]] ") + 300
    assert answer_text(7, 3) == answer_text(7, 3).strip()  # the socket strips whitespace


def test_start_offsets_spread_within_one_interval() -> None:
    """Offsets are reproducible and all within [0, interval)."""
    offsets = start_offsets(500, 5.0)
    assert offsets == start_offsets(500, 5.0)
    assert all(0 <= o < 5.0 for o in offsets)
    assert min(offsets) < 0.5
    assert max(offsets) > 4.5
