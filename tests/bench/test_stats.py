"""bench/stats.py: exact nearest-rank percentiles (no servers; the bench itself is not part of make test)."""

from __future__ import annotations

import pytest

from bench.stats import percentile, ratio, summary


def test_nearest_rank_on_one_to_hundred() -> None:
    samples = list(range(100, 0, -1))  # unsorted on purpose
    assert percentile(samples, 50) == 50
    assert percentile(samples, 99) == 99
    assert percentile(samples, 100) == 100
    assert percentile(samples, 0) == 1


def test_nearest_rank_never_interpolates() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 51) == 3.0
    assert percentile([7.0], 99) == 7.0


def test_empty_and_bad_input() -> None:
    assert percentile([], 50) is None
    assert summary([]) == {"count": 0}
    with pytest.raises(ValueError, match=r"p must be within \[0, 100\]"):
        percentile([1.0], 101)


def test_summary_scales_and_ratio() -> None:
    result = summary([0.001, 0.002, 0.003], scale=1000)
    assert result["count"] == 3
    assert result["p50"] == 2.0
    assert result["max"] == 3.0
    assert ratio(3.0, 1.5) == 2.0
    assert ratio(1.0, 0) is None
    assert ratio(None, 1.0) is None
