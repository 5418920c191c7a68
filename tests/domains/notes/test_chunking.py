"""Chunking: the chunks cover the whole body in order, and every embedding input fits its embedder."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domains.ai.embedders import HashingEmbedder, InputLimit, MiniLMEmbedder, OpenAIEmbedder, estimate_pieces, fits
from domains.notes.chunking import PATH_SEPARATOR, chunk_note, embed_input

LIMITS = [HashingEmbedder.limit, MiniLMEmbedder.limit, OpenAIEmbedder.limit, InputLimit(max_pieces=40, max_chars=200)]

words = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12)
plain_words = st.sampled_from(
    [
        "the",
        "STAR",
        "method",
        "situation",
        "task",
        "action",
        "result",
        "interview",
        "résumé",
        "面接",
        "🙂",
        "don't",
        "e-mail",
    ]
)
line = st.lists(st.one_of(plain_words, words), min_size=0, max_size=40).map(" ".join)
heading = st.tuples(st.integers(1, 7), line).map(lambda t: "#" * t[0] + " " + t[1])
fence = st.lists(line, max_size=6).map(lambda lines: "```\n# not a heading\n" + "\n".join(lines) + "\n```")
long_token = st.integers(50, 3000).map(lambda n: "x" * n)
block = st.one_of(line, line, heading, fence, long_token, st.just(""), st.just("   "), st.just("\r\n"))
bodies = st.one_of(
    st.lists(block, max_size=60).map("\n".join),
    st.lists(block, max_size=30).map("\n\n".join),
    st.text(max_size=3000),
)
titles = st.text(max_size=200)


def assert_chunks_are_sound(title: str, body: str, limit: InputLimit) -> None:
    chunks = chunk_note(body, limit)
    if not body:
        assert chunks == []
        return
    assert chunks[0].char_start == 0
    assert chunks[-1].char_end == len(body)
    for index, chunk in enumerate(chunks):
        assert chunk.ordinal == index
        assert chunk.text == body[chunk.char_start : chunk.char_end]
        assert chunk.char_end > chunk.char_start
        text = embed_input(title, chunk, limit)
        assert fits(text, limit), (len(text), estimate_pieces(text), limit)
    for before, after in itertools.pairwise(chunks):
        assert before.char_start <= after.char_start  # in order
        assert after.char_start <= before.char_end  # no gap: every character is covered
        assert after.char_end > before.char_end  # progress


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=titles, body=bodies, limit=st.sampled_from(LIMITS))
def test_chunks_cover_the_body_in_order_and_fit_the_embedder(title: str, body: str, limit: InputLimit) -> None:
    """Every character of a note lies in some chunk, chunk spans advance monotonically (overlaps
    allowed), and each chunk's embedding input stays within the embedder's budget."""
    assert_chunks_are_sound(title, body, limit)


def test_headings_split_sections_and_give_paths() -> None:
    """A heading starts a new chunk whose heading path names the headings above it."""
    body = "# Interviews\n\nIntro text.\n\n## STAR\n\nSituation, task, action, result.\n\n# Pay\n\nNegotiate.\n"
    chunks = chunk_note(body, HashingEmbedder.limit)
    assert [c.heading_path for c in chunks] == ["Interviews", f"Interviews{PATH_SEPARATOR}STAR", "Pay"]
    assert chunks[1].text.startswith("## STAR")


def test_long_sections_overlap_at_word_boundaries() -> None:
    """A section longer than one chunk is cut into chunks that repeat the end of the previous one."""
    body = "# Long\n\n" + " ".join(f"word{i}" for i in range(2000))
    chunks = chunk_note(body, MiniLMEmbedder.limit)
    assert len(chunks) > 3
    for before, after in itertools.pairwise(chunks):
        assert after.char_start < before.char_end  # overlap
        assert body[after.char_start - 1].isspace()  # at a word boundary
        assert after.heading_path == "Long"
