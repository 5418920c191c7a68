"""Exact percentiles (sorted samples, nearest rank) and small summaries. No numpy, no interpolation."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any


def percentile(samples: Sequence[float], p: float) -> float | None:
    """The nearest-rank p-th percentile: the smallest sample with at least p% of samples at or below it.

    `samples` need not be sorted. None for no samples. p in [0, 100]; p=0 gives the minimum.
    """
    if not samples:
        return None
    if not 0 <= p <= 100:
        raise ValueError("p must be within [0, 100]")
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(samples: Iterable[float], *, scale: float = 1.0, digits: int = 2) -> dict[str, Any]:
    """count, min, p50, p90, p95, p99, max and mean of `samples` (times `scale`, rounded)."""
    values = sorted(float(v) * scale for v in samples)
    if not values:
        return {"count": 0}

    def rnd(value: float | None) -> float | None:
        return None if value is None else round(value, digits)

    return {
        "count": len(values),
        "min": rnd(values[0]),
        "p50": rnd(percentile(values, 50)),
        "p90": rnd(percentile(values, 90)),
        "p95": rnd(percentile(values, 95)),
        "p99": rnd(percentile(values, 99)),
        "max": rnd(values[-1]),
        "mean": rnd(sum(values) / len(values)),
    }


def ratio(value: float | None, baseline: float | None, digits: int = 2) -> float | None:
    """value / baseline, or None when either is missing or the baseline is 0."""
    if value is None or baseline in (None, 0):
        return None
    return round(value / baseline, digits)
