"""Percentiles and medians of measured samples."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(samples: Sequence[float], pct: float) -> float:
    """The nearest-rank ``pct`` percentile (0 < pct <= 100); NaN without samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> float:
    """Seconds to milliseconds, rounded to 0.01 ms."""
    return round(seconds * 1000, 2)


def latency_summary(samples: Sequence[float]) -> dict[str, float | int]:
    """Count, p50, p90, p99 and maximum, in milliseconds."""
    return {
        "count": len(samples),
        "p50_ms": ms(percentile(samples, 50)),
        "p90_ms": ms(percentile(samples, 90)),
        "p99_ms": ms(percentile(samples, 99)),
        "max_ms": ms(max(samples)) if samples else math.nan,
    }


def median(values: Sequence[float]) -> float:
    """The median; NaN for no values."""
    return statistics.median(values) if values else math.nan


def ratio(value: float, baseline: float) -> float:
    """``value / baseline`` rounded to 0.001; NaN when the baseline is zero."""
    return round(value / baseline, 3) if baseline else math.nan
