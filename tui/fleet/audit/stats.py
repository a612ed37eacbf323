"""The few statistics the audit uses, each with the rule it follows stated beside it."""

from __future__ import annotations

import math
from collections.abc import Sequence

# Iglewicz & Hoaglin (1993), "How to Detect and Handle Outliers": modified z-score
# M = 0.6745 (x - median) / MAD, outlier when |M| > 3.5. When MAD is 0 (most peers identical), the
# mean absolute deviation stands in: M = (x - median) / (1.253314 MeanAD), as IBM SPSS does.
MODIFIED_Z_SCALE = 0.6745
MEAN_AD_SCALE = 1.253314
MODIFIED_Z_LIMIT = 3.5
P95_RULE = "nearest rank: sorted[ceil(0.95 n) - 1]"


def nearest_rank(values: Sequence[float], p: float) -> float:
    """The p-th percentile by nearest rank, sorted[ceil(p/100 n) - 1] (p in (0, 100])."""
    if not values:
        raise ValueError("nearest_rank of no values")
    ordered = sorted(values)
    rank = math.ceil(round(p / 100.0 * len(ordered), 9))
    return ordered[max(rank, 1) - 1]


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of no values")
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0


def mad(values: Sequence[float]) -> float:
    """Median absolute deviation from the median (unscaled)."""
    m = median(values)
    return median([abs(v - m) for v in values])


def modified_z(value: float, peers: Sequence[float]) -> float | None:
    """Iglewicz-Hoaglin modified z-score of `value` against `peers` (which include it).

    None when every peer is equal (no spread to measure against)."""
    m = median(peers)
    d = mad(peers)
    if d > 0:
        return MODIFIED_Z_SCALE * (value - m) / d
    mean_ad = sum(abs(v - m) for v in peers) / len(peers)
    if mean_ad == 0:
        return None
    return (value - m) / (MEAN_AD_SCALE * mean_ad)


def relative_range(values: Sequence[float]) -> float | None:
    """(max - min) / median of repeated measurements: the run-to-run noise; None for fewer than two."""
    if len(values) < 2:
        return None
    m = median(values)
    if m == 0:
        return None
    return (max(values) - min(values)) / abs(m)
