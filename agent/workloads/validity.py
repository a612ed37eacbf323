"""Whether a run's figures can be trusted: minimum duration and count, LoadGen early stopping, CoV.

Pure (standard library only, mypy --strict clean) like metrics.py, which it builds on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from wattfleet.agent.workloads.config import SloConfig
from wattfleet.agent.workloads.metrics import (
    COV_FLAG,
    NS_PER_S,
    e2el_ms,
    measured,
    ttft_ms,
)
from wattfleet.core.model.query import Query

CONFIDENCE = 0.99
# Scenario -> the percentile LoadGen's early stopping is checked at; scenarios not listed are not
# latency-bound (offline measures throughput; a sweep's levels carry their own validity).
EARLY_STOPPING_PERCENTILE: dict[str, float] = {"single-stream": 90.0, "concurrency": 90.0, "server": 99.0}


def binomial_cdf(k: int, n: int, q: float) -> float:
    """P(X <= k) for X ~ Binomial(n, q), summed in log space so large n does not underflow."""
    if k < 0:
        return 0.0
    if k >= n or q <= 0.0:
        return 1.0
    if q >= 1.0:
        return 0.0
    log_q, log_1q = math.log(q), math.log1p(-q)
    lg_n1 = math.lgamma(n + 1)
    total = 0.0
    for i in range(k + 1):
        log_term = lg_n1 - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_q + (n - i) * log_1q
        total += math.exp(log_term)
    return min(total, 1.0)


def max_overlatency(n: int, percentile: float, confidence: float = CONFIDENCE) -> int:
    """The most queries of n that may exceed a latency bound while we can still claim, with the given
    confidence, that the `percentile`-th latency is within it (MLPerf LoadGen early stopping).

    If the true share of queries over the bound were q = 1 - percentile/100, the number X over it in n
    queries is Binomial(n, q). Seeing t or fewer is then unlikely when P(X <= t) <= 1 - confidence, so
    the claim holds for the largest t with BinomialCDF(t; n, q) <= 1 - confidence. Returns -1 when even
    t = 0 is not enough (too few queries: n < log(1 - confidence) / log(percentile/100)).
    """
    q = 1.0 - percentile / 100.0
    alpha = 1.0 - confidence
    if binomial_cdf(0, n, q) > alpha:
        return -1
    lo, hi = 0, n  # cdf(lo) <= alpha holds; find the largest such t by bisection (cdf grows with t)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if binomial_cdf(mid, n, q) <= alpha:
            lo = mid
        else:
            hi = mid - 1
    return lo


def claimable_percentile(n: int, overlatency: int, confidence: float = CONFIDENCE) -> float:
    """The largest percentile p (0..100) one can claim at `confidence` given `overlatency` of n queries
    exceeded the latency target: the p with BinomialCDF(overlatency; n, 1 - p/100) = 1 - confidence.
    0.0 when no percentile can be claimed (e.g. every query was over)."""
    if n <= 0 or overlatency >= n:
        return 0.0
    alpha = 1.0 - confidence
    lo, hi = 0.0, 1.0  # q = share over the bound; the cdf falls as q grows
    for _ in range(60):
        mid = (lo + hi) / 2
        if binomial_cdf(overlatency, n, mid) <= alpha:
            hi = mid
        else:
            lo = mid
    return 100.0 * (1.0 - hi)


def early_stopping_estimate(
    latencies: Sequence[float], percentile: float, confidence: float = CONFIDENCE
) -> float | None:
    """LoadGen's early-stopping percentile estimate: the smallest latency bound L among the observed
    latencies with at most max_overlatency(n) queries above it; None when n is too small."""
    n = len(latencies)
    t = max_overlatency(n, percentile, confidence)
    if t < 0:
        return None
    return sorted(latencies)[n - t - 1]


def coefficient_of_variation(values: Sequence[float]) -> float:
    """Population standard deviation / mean; 0.0 for fewer than two values or a zero mean."""
    n = len(values)
    if n < 2:
        return 0.0
    mean = math.fsum(values) / n
    if mean == 0.0:
        return 0.0
    var = math.fsum((v - mean) ** 2 for v in values) / n
    return math.sqrt(var) / mean


def _latency_target(
    rs: Sequence[Query], scenario: str, slo: SloConfig
) -> tuple[str, list[float], float | None]:
    """Which latency early stopping looks at, its values, and the SLO bound for it if one is set."""
    generative = any(r.token_ns for r in rs)
    if scenario == "server" and generative:
        return "ttft", [ttft_ms(r) for r in rs], slo.ttft_ms
    name = "e2el" if generative else "latency"
    return name, [e2el_ms(r) for r in rs], slo.e2el_ms


def validity(
    requests: Iterable[Query],
    t0_ns: int,
    t1_ns: int,
    *,
    scenario: str,
    min_duration_s: float,
    min_queries: int,
    slo: SloConfig | None = None,
    confidence: float = CONFIDENCE,
) -> dict[str, Any]:
    """The validity block of a run record; `valid` is False with `reasons` when anything is unmet."""
    slo = slo or SloConfig()
    rs = measured(requests)
    duration_s = max(t1_ns - t0_ns, 0) / NS_PER_S
    reasons: list[str] = []
    if duration_s < min_duration_s:
        reasons.append(f"window {duration_s:.3f} s < min_duration_s {min_duration_s:g}")
    if len(rs) < min_queries:
        reasons.append(f"{len(rs)} queries < min_queries {min_queries}")
    out: dict[str, Any] = {
        "duration_s": duration_s,
        "queries": len(rs),
        "min_duration_met": duration_s >= min_duration_s,
        "min_queries_met": len(rs) >= min_queries,
        "early_stopping": None,
    }
    percentile = EARLY_STOPPING_PERCENTILE.get(scenario)
    if percentile is not None and rs:
        name, lat, bound = _latency_target(rs, scenario, slo)
        n = len(lat)
        allowed = max_overlatency(n, percentile, confidence)
        es: dict[str, Any] = {
            "metric": name,
            "percentile": percentile,
            "confidence": confidence,
            "queries": n,
            "max_overlatency": allowed,
            "estimate_ms": early_stopping_estimate(lat, percentile, confidence),
            "target_ms": bound,
        }
        if allowed < 0:
            need = math.ceil(math.log(1.0 - confidence) / math.log(percentile / 100.0))
            reasons.append(
                f"early stopping: {n} queries cannot support a p{percentile:g} claim (need >= {need})"
            )
            es["met"] = False
        elif bound is not None:
            over = sum(1 for v in lat if v > bound)
            es["overlatency"] = over
            es["claimable_percentile"] = claimable_percentile(n, over, confidence)
            es["met"] = over <= allowed
            if over > allowed:
                reasons.append(
                    f"early stopping: {over} of {n} {name} over {bound:g} ms; at most {allowed} allowed "
                    f"for p{percentile:g} at {confidence:.0%} confidence"
                )
        else:
            es["met"] = True
        out["early_stopping"] = es
    lat_all = [e2el_ms(r) for r in rs]
    cov = coefficient_of_variation(lat_all)
    out["latency_cov"] = cov
    out["cov_flag"] = cov > COV_FLAG
    out["reasons"] = reasons
    out["valid"] = not reasons
    return out
