"""metrics.py and validity.py against hand-computed values and brute-force references."""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from wattfleet.agent.workloads.config import SloConfig
from wattfleet.agent.workloads.metrics import (
    PERCENTILES,
    Query,
    figure_value,
    nearest_rank,
    per_request_values,
    summarize,
)
from wattfleet.agent.workloads.validity import (
    binomial_cdf,
    claimable_percentile,
    coefficient_of_variation,
    early_stopping_estimate,
    max_overlatency,
    validity,
)

MS = 1_000_000


def _brute_percentile(values: list[float], p: float) -> float:
    """The smallest observed value with at least p% of the values at or below it."""
    n, share = len(values), Fraction(p).limit_denominator(1000) / 100
    for v in sorted(set(values)):
        if sum(1 for x in values if x <= v) >= share * n:
            return v
    raise AssertionError("unreachable")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=300), st.sampled_from(PERCENTILES))
def test_nearest_rank_matches_brute_force(values: list[int], p: float) -> None:
    fvalues = [float(v) for v in values]
    assert nearest_rank(sorted(fvalues), p) == _brute_percentile(fvalues, p)


def _req(i: int, sched: int, issued: int, tokens: list[int], warmup: bool = False) -> Query:
    return Query(i, sched * MS, issued * MS, tokens[-1] * MS, tuple(t * MS for t in tokens), warmup)


def test_summarize_hand_computed() -> None:
    reqs = [
        _req(0, 0, 1, [10, 12, 14, 16]),  # ttft 10, send 9, tpot 2, ntpot 4, e2el 16
        _req(1, 5, 5, [25, 35]),  # ttft 20, tpot 10, ntpot 15, e2el 30
        _req(2, 6, 6, [40]),  # n_out 1: no tpot, e2el 34
        _req(3, 0, 0, [1, 2, 3], warmup=True),  # excluded
    ]
    v = per_request_values(reqs)
    assert v["ttft"] == [10, 20, 34]
    assert v["ttft_send"] == [9, 20, 34]
    assert v["tpot"] == [2, 10]
    assert v["ntpot"] == [4, 15, 34]
    assert v["itl"] == [2, 2, 2, 10]
    assert v["e2el"] == [16, 30, 40 - 6]
    figs = summarize(reqs, 0, 40 * MS, SloConfig(ttft_ms=15.0, tpot_ms=5.0))
    assert figure_value(figs, "ttft_p50") == 20
    assert figure_value(figs, "ttft_mean") == (10 + 20 + 34) / 3
    assert figure_value(figs, "tpot_p99") == 10
    assert figure_value(figs, "itl_p50") == 2
    assert figure_value(figs, "tokens_per_s") == 7 / 0.040
    assert figure_value(figs, "requests_per_s") == 3 / 0.040
    # only request 0 meets ttft <= 15 and tpot <= 5 (request 2's tpot is vacuous, its ttft 34 fails)
    assert figure_value(figs, "goodput") == 1 / 0.040
    assert figure_value(figs, "samples_per_s") is None
    shapes = {tuple(sorted(f)) for f in figs}
    assert shapes == {("definition", "domain", "low_confidence", "name", "unit", "value")}
    ttft = next(f for f in figs if f["name"] == "ttft_p99")
    assert "MLPerf" in ttft["definition"] and ttft["unit"] == "ms" and ttft["low_confidence"]


def test_window_counts_only_what_completed_inside() -> None:
    reqs = [_req(0, 0, 0, [10, 20, 30, 40]), _req(1, 0, 0, [50, 60])]
    figs = summarize(reqs, 15 * MS, 55 * MS)
    assert figure_value(figs, "tokens_per_s") == 4 / 0.040  # 20, 30, 40, 50
    assert figure_value(figs, "requests_per_s") == 1 / 0.040  # only request 0 is done inside
    assert figure_value(figs, "goodput") is None  # no SLO configured


def test_fixed_shape_has_samples_and_no_token_figures() -> None:
    reqs = [Query(i, i * 10 * MS, i * 10 * MS, (i * 10 + 4) * MS, (), samples=8) for i in range(5)]
    figs = summarize(reqs, 0, 50 * MS)
    names = {f["name"] for f in figs}
    assert figure_value(figs, "samples_per_s") == 40 / 0.050
    assert figure_value(figs, "latency_p90") == 4
    assert not any(n.startswith(("ttft", "tpot", "itl", "tokens")) for n in names)
    assert summarize([], 0, 1) == []


def _exact_cdf(k: int, n: int, q: Fraction) -> Fraction:
    return sum((math.comb(n, i) * q**i * (1 - q) ** (n - i) for i in range(k + 1)), Fraction(0))


@settings(max_examples=12, deadline=None)
@given(st.integers(1, 160), st.sampled_from([90.0, 99.0]))
def test_max_overlatency_against_exact_binomial(n: int, p: float) -> None:
    q = Fraction(100 - int(p), 100)
    alpha = Fraction(1, 100)
    brute = max((t for t in range(n + 1) if _exact_cdf(t, n, q) <= alpha), default=-1)
    assert max_overlatency(n, p) == brute


def test_early_stopping_thresholds_and_estimate() -> None:
    # 0.9**44 < 0.01 < 0.9**43: the smallest single-stream run that can claim a p90 at all.
    assert max_overlatency(43, 90.0) == -1 and max_overlatency(44, 90.0) == 0
    assert abs(binomial_cdf(3, 10, 0.5) - 176 / 1024) < 1e-12
    lat = [float(i) for i in range(1, 1001)]
    t = max_overlatency(1000, 90.0)
    assert early_stopping_estimate(lat, 90.0) == 1000 - t
    assert early_stopping_estimate(lat[:10], 90.0) is None
    p = claimable_percentile(1000, t)
    assert 90.0 <= p < 91.0
    assert claimable_percentile(1000, t + 5) < 90.0


def test_validity_block() -> None:
    reqs = [_req(i, i * 10, i * 10, [i * 10 + 1, i * 10 + 2]) for i in range(50)]
    v = validity(reqs, 0, 500 * MS, scenario="single-stream", min_duration_s=0.4, min_queries=50)
    assert v["valid"], v["reasons"]
    assert v["early_stopping"]["met"] and v["early_stopping"]["percentile"] == 90.0
    short = validity(reqs[:10], 0, 100 * MS, scenario="single-stream", min_duration_s=1.0, min_queries=20)
    assert not short["valid"] and len(short["reasons"]) == 3
    # server with an SLO every request misses: early stopping refuses the p99 claim
    server = validity(reqs * 10, 0, 500 * MS, scenario="server", min_duration_s=0.1, min_queries=1,
                      slo=SloConfig(ttft_ms=0.5))
    assert not server["early_stopping"]["met"] and server["early_stopping"]["metric"] == "ttft"
    offline = validity(reqs, 0, 500 * MS, scenario="offline", min_duration_s=0.1, min_queries=1)
    assert offline["early_stopping"] is None and offline["valid"]


def test_cov_flag() -> None:
    assert coefficient_of_variation([10.0, 10.0, 10.0]) == 0.0
    assert abs(coefficient_of_variation([9.0, 11.0]) - 0.1) < 1e-12
    steady = [_req(i, 0, 0, [100]) for i in range(5)]
    jittery = [_req(i, 0, 0, [100 + 10 * (i % 2)]) for i in range(5)]
    assert not validity(steady, 0, MS, scenario="offline", min_duration_s=0, min_queries=0)["cov_flag"]
    assert validity(jittery, 0, MS, scenario="offline", min_duration_s=0, min_queries=0)["cov_flag"]
