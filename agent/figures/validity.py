"""Whether a run's figures can be trusted: minimum duration and count, LoadGen early stopping, CoV.

Early stopping follows MLPerf LoadGen's rules query for query (loadgen/results.cc, early_stopping.cc),
written here from those rules: with n queries of which t exceed a latency bound, the claim "the p-th
percentile is within the bound" holds at 99% confidence when P(t or fewer over | a true share of
1 - p/100 over) < 1 - 0.99. Pure (standard library only, mypy --strict clean) like metrics.py.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from wattfleet.agent.figures.latency import (
    COV_FLAG,
    NS_PER_MS,
    NS_PER_S,
    e2el_ms,
    measured,
    ttft_ms,
)
from wattfleet.agent.workloads.config import LoadConfig, SloConfig
from wattfleet.core.model.query import Query

CONFIDENCE = 0.99
# Scenario -> the percentile it claims unless load.target_latency_percentile says otherwise (LoadGen's
# single_stream_target_latency_percentile and server_target_latency_percentile). Offline measures
# throughput and claims none; a sweep's levels claim what their inner scenario claims.
DEFAULT_TARGET_PERCENTILE: dict[str, float] = {"single-stream": 90.0, "concurrency": 90.0, "server": 99.0}
EARLY_STOPPING_PERCENTILE = DEFAULT_TARGET_PERCENTILE  # the name earlier callers used
NO_CLAIM_MIN_QUERIES = 8  # the minimum query count of a run that claims no percentile


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


def _odds(over: int, n: int, percentile: float) -> float:
    """P(`over` or fewer of n queries above the bound) if the share above it were 1 - percentile/100."""
    return binomial_cdf(over, n, 1.0 - percentile / 100.0)


def min_passing(over: int, percentile: float, confidence: float = CONFIDENCE) -> int:
    """LoadGen's find_min_passing: the fewest queries within the bound, h, such that h of them plus
    `over` above it support the claim (odds < 1 - confidence). Grows with `over`."""
    alpha = 1.0 - confidence
    lo, hi = 0, max(1, over)
    while _odds(over, hi + over, percentile) >= alpha:  # find an h that passes, then bisect below it
        lo, hi = hi + 1, hi * 2
    while lo < hi:
        mid = (lo + hi) // 2
        if _odds(over, mid + over, percentile) < alpha:
            hi = mid
        else:
            lo = mid + 1
    return lo


def min_queries_for(percentile: float, confidence: float = CONFIDENCE) -> int:
    """The fewest queries from which LoadGen gives an early-stopping estimate at `percentile` (its
    "Need to process at least N queries"): min_passing(1) + 1, e.g. 64 for p90 and 662 for p99."""
    return min_passing(1, percentile, confidence) + 1


def max_overlatency(n: int, percentile: float, confidence: float = CONFIDENCE) -> int:
    """LoadGen's t for n queries: the most queries that may lie above the estimate's rank, i.e. the
    largest t >= 1 with P(t or fewer over) < 1 - confidence; -1 below min_queries_for(percentile).
    Found in one pass over the binomial's terms, smallest first."""
    alpha = 1.0 - confidence
    p = percentile / 100.0
    if n < 2 or _odds(1, n, percentile) >= alpha:
        return -1
    log_p, log_q = math.log(p), math.log1p(-p)
    log_term = n * log_p  # P(X = 0)
    total = 0.0
    t = -1
    for i in range(n + 1):
        total += math.exp(log_term)
        if total >= alpha:
            break
        t = i
        log_term += math.log(n - i) - math.log(i + 1) + log_q - log_p
    return max(t, 1)


def early_stopping_estimate(
    latencies: Sequence[float], percentile: float, confidence: float = CONFIDENCE
) -> float | None:
    """LoadGen's SingleStream early-stopping estimate: sorted latencies[n - t] (0-based) with
    t = max_overlatency(n), i.e. t - 1 of the highest latencies discarded; None below the minimum."""
    n = len(latencies)
    t = max_overlatency(n, percentile, confidence)
    if t < 1:
        return None
    return sorted(latencies)[n - t]


def server_early_stopping(
    latencies: Sequence[float], bound: float, percentile: float, confidence: float = CONFIDENCE
) -> dict[str, Any]:
    """LoadGen's Server rule: t latencies above `bound` (strictly); the run passes when it has at
    least min_passing(t) + t queries; otherwise it names how many more it would need."""
    n = len(latencies)
    over = sum(1 for v in latencies if v > bound)
    need = min_passing(over, percentile, confidence) + over
    return {"overlatency": over, "queries_needed": need, "more_queries_needed": max(0, need - n), "met": n >= need}


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


def service_time_ms(r: Query) -> float:
    """Completion - actual issue: the time the runner took, without queueing (unlike e2el)."""
    return (r.done_ns - r.issued_ns) / NS_PER_MS


# ---- the claim a profile makes, and what it needs --------------------------------------------------


def inner_scenario(load: LoadConfig) -> str:
    """The scenario that actually runs: a sweep's levels are server (over rate) or concurrency runs."""
    if load.scenario == "sweep":
        if load.sweep.over == "power_limit":
            return load.sweep.inner or "concurrency"
        return "server" if load.sweep.over == "rate" else "concurrency"
    return load.scenario


def claimed_percentile(scenario: str, target: float | None) -> float | None:
    """The percentile a run claims: the scenario's own unless `target` is set; 0 means none."""
    if target is None:
        return DEFAULT_TARGET_PERCENTILE.get(scenario)
    return target if target > 0 else None


def needed_queries(load: LoadConfig) -> int:
    """The fewest measured queries that can support the run's claim (LoadGen's early-stopping minimum)."""
    p = claimed_percentile(inner_scenario(load), load.target_latency_percentile)
    return min_queries_for(p) if p is not None else NO_CLAIM_MIN_QUERIES


# ---- the validity block ------------------------------------------------------------------------------


def _latency_target(
    rs: Sequence[Query], scenario: str, slo: SloConfig
) -> tuple[str, list[float], float | None]:
    """Which latency early stopping looks at, its values, and the SLO bound for it if one is set."""
    generative = any(r.token_ns for r in rs)
    if scenario == "server" and generative:
        return "ttft", [ttft_ms(r) for r in rs], slo.ttft_ms
    name = "e2el" if generative else "latency"
    return name, [e2el_ms(r) for r in rs], slo.e2el_ms


def early_stopping(
    lat: Sequence[float], name: str, percentile: float, bound: float | None, *, server: bool,
    confidence: float = CONFIDENCE,
) -> tuple[dict[str, Any], list[str]]:
    """The early-stopping entry of the validity block, and the reasons it fails (if it does)."""
    n = len(lat)
    need = min_queries_for(percentile, confidence)
    t = max_overlatency(n, percentile, confidence)
    estimate = sorted(lat)[n - t] if t >= 1 else None
    es: dict[str, Any] = {
        "metric": name,
        "percentile": percentile,
        "confidence": confidence,
        "queries": n,
        "min_queries": need,
        "max_overlatency": t,
        "discarded": max(t - 1, 0),
        "estimate_ms": estimate,
        "target_ms": bound,
        "rule": "MLPerf LoadGen Server" if server and bound is not None else
                "MLPerf LoadGen SingleStream" + (" estimate (no SLO bound for the Server rule)" if server else ""),
    }
    reasons: list[str] = []
    if server and bound is not None:
        verdict = server_early_stopping(lat, bound, percentile, confidence)
        es.update(verdict)
        es["claimable_percentile"] = claimable_percentile(n, verdict["overlatency"], confidence)
        if not verdict["met"]:
            reasons.append(
                f"early stopping: {verdict['overlatency']} of {n} {name} over {bound:g} ms; p{percentile:g} at "
                f"{confidence:.0%} confidence needs {verdict['queries_needed']} queries "
                f"({verdict['more_queries_needed']} more, all within the bound)"
            )
        return es, reasons
    if estimate is None:
        es["met"] = False
        reasons.append(f"early stopping: {n} queries cannot support a p{percentile:g} claim (need >= {need})")
    elif bound is not None and estimate > bound:
        es["met"] = False
        reasons.append(f"early stopping: p{percentile:g} {name} estimate {estimate:.3f} ms > SLO {bound:g} ms")
    else:
        es["met"] = True
    return es, reasons


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
    target_percentile: float | None = None,
) -> dict[str, Any]:
    """The validity block of a run record; `valid` is False with `reasons` when anything is unmet.

    `target_percentile` is load.target_latency_percentile: None for the scenario's own, 0 for no claim."""
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
    percentile = claimed_percentile(scenario, target_percentile)
    if percentile is not None and rs:
        name, lat, bound = _latency_target(rs, scenario, slo)
        es, why = early_stopping(lat, name, percentile, bound, server=scenario == "server", confidence=confidence)
        out["early_stopping"] = es
        reasons += why
    # trtexec's CoV is over the engine's own time: service time (done - issued), so that queueing in
    # offline and server runs does not inflate it. The e2el CoV stays beside it for comparison.
    cov = coefficient_of_variation([service_time_ms(r) for r in rs])
    out["latency_cov"] = coefficient_of_variation([e2el_ms(r) for r in rs])
    out["service_time_cov"] = cov
    out["cov_flag"] = cov > COV_FLAG
    out["reasons"] = reasons
    out["valid"] = not reasons
    return out
