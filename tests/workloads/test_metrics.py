"""metrics.py and validity.py against hand-computed values and brute-force references.

LoadGen's percentile index and early-stopping rules are checked here by hand and by brute force; they
are checked against LoadGen's own package in test_loadgen_harness.py."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from wattfleet.agent.figures.latency import (
    PERCENTILES,
    Query,
    e2el_ms,
    figure_value,
    loadgen_index,
    per_request_values,
    percentile,
    summarize,
)
from wattfleet.agent.figures.validity import (
    binomial_cdf,
    claimable_percentile,
    coefficient_of_variation,
    early_stopping_estimate,
    max_overlatency,
    min_passing,
    min_queries_for,
    server_early_stopping,
    validity,
)
from wattfleet.agent.workloads.config import SloConfig
from wattfleet.core.model import Figure

MS = 1_000_000


def _brute_percentile(values: list[float], p: float) -> float:
    """LoadGen's sorted[floor(p/100*n)]: the smallest observed value with MORE than p% of the values at
    or below it."""
    n, share = len(values), Fraction(str(p)) / 100
    for v in sorted(set(values)):
        if sum(1 for x in values if x <= v) > share * n:
            return v
    raise AssertionError("unreachable")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=300), st.sampled_from(PERCENTILES))
def test_loadgen_percentile_matches_brute_force(values: list[int], p: float) -> None:
    fvalues = [float(v) for v in values]
    assert percentile(sorted(fvalues), p) == _brute_percentile(fvalues, p)


def test_loadgen_index_where_p_times_n_is_whole() -> None:
    # floor(p/100 * n), 0-based; the float product 0.9 * 10 is 8.999..., the index is still 9
    assert [loadgen_index(10, p) for p in (50.0, 90.0, 99.0)] == [5, 9, 9]
    assert [loadgen_index(100, p) for p in (50.0, 90.0, 95.0, 97.0, 99.0, 99.9)] == [50, 90, 95, 97, 99, 99]
    assert [loadgen_index(1000, p) for p in (50.0, 90.0, 99.0, 99.9)] == [500, 900, 990, 999]
    assert loadgen_index(7, 50.0) == 3 and loadgen_index(1, 99.9) == 0


def test_two_definitions_at_n_100_against_hand_computed_values() -> None:
    values = [float(i * i) for i in range(1, 101)]  # 1, 4, 9, ..., 10000
    # LoadGen: sorted[floor(p*n)] -> the 51st, 91st and 100th values: 51^2, 91^2, 100^2
    assert [percentile(values, p) for p in (50.0, 90.0, 99.0)] == [2601.0, 8281.0, 10000.0]
    # vLLM (numpy linear): (n-1)*p = 49.5, 89.1, 98.01 -> interpolate between the 0-based neighbours
    # 50^2 + 0.5 * (51^2 - 50^2) = 2550.5; 90^2 + 0.1 * 181 = 8118.1; 99^2 + 0.01 * 199 = 9802.99
    vllm = [percentile(values, p, "vllm") for p in (50.0, 90.0, 99.0)]
    assert [round(v, 9) for v in vllm] == [2550.5, 8118.1, 9802.99]
    # the old nearest rank (sorted[ceil(p*n) - 1]) gave 50^2: LoadGen's is one rank higher here
    assert percentile(values, 50.0) != values[50 - 1]


def test_two_definitions_at_n_1000_against_hand_computed_values() -> None:
    values = [float(3 * i) for i in range(1000, 0, -1)]  # 3000 down to 3, unsorted on purpose
    s = sorted(values)
    assert [percentile(s, p) for p in (50.0, 90.0, 99.0, 99.9)] == [1503.0, 2703.0, 2973.0, 3000.0]
    # (n-1)*p = 499.5, 899.1, 989.01, 998.001 -> 3*500.5, 3*900.1, 3*990.01, 3*999.001
    vllm = [percentile(s, p, "vllm") for p in (50.0, 90.0, 99.0, 99.9)]
    assert [round(v, 9) for v in vllm] == [1501.5, 2700.3, 2970.03, 2997.003]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=400), st.sampled_from((*PERCENTILES, 0.0, 100.0, 33.3)))
def test_vllm_method_is_numpys_default_percentile(values: list[float], p: float) -> None:
    assert percentile(sorted(values), p, "vllm") == float(np.percentile(values, p))


def test_summarize_names_the_method_and_recomputes_from_raw_values() -> None:
    reqs = [_req(i, 0, 0, [i + 1, i + 3]) for i in range(100)]  # ttft 1..100 ms, tpot 2 ms
    lg = summarize(reqs, 0, 200 * MS)
    vl = summarize(reqs, 0, 200 * MS, method="vllm")
    assert figure_value(lg, "ttft_p50") == 51.0 and figure_value(vl, "ttft_p50") == 50.5
    assert figure_value(lg, "ttft_p90") == 91.0 and math.isclose(figure_value(vl, "ttft_p90") or 0, 90.1)
    p50 = next(f for f in vl if f.name == "ttft_p50")
    assert "vLLM" in p50.definition and "numpy linear" in p50.definition
    assert "floor(p/100*n)" in next(f for f in lg if f.name == "ttft_p50").definition
    assert figure_value(lg, "tokens_per_s") == figure_value(vl, "tokens_per_s")  # only percentiles move


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
    assert all(isinstance(f, Figure) for f in figs)  # the one figure type, latency and energy alike
    ttft = next(f for f in figs if f.name == "ttft_p99")
    assert "MLPerf" in ttft.definition and ttft.unit == "ms" and ttft.low_confidence


def test_window_counts_only_what_completed_inside() -> None:
    reqs = [_req(0, 0, 0, [10, 20, 30, 40]), _req(1, 0, 0, [50, 60])]
    figs = summarize(reqs, 15 * MS, 55 * MS)
    assert figure_value(figs, "tokens_per_s") == 4 / 0.040  # 20, 30, 40, 50
    assert figure_value(figs, "requests_per_s") == 1 / 0.040  # only request 0 is done inside
    assert figure_value(figs, "goodput") is None  # no SLO configured


def test_fixed_shape_has_samples_and_no_token_figures() -> None:
    reqs = [Query(i, i * 10 * MS, i * 10 * MS, (i * 10 + 4) * MS, (), samples=8) for i in range(5)]
    figs = summarize(reqs, 0, 50 * MS)
    names = {f.name for f in figs}
    assert figure_value(figs, "samples_per_s") == 40 / 0.050
    assert figure_value(figs, "latency_p90") == 4
    assert not any(n.startswith(("ttft", "tpot", "itl", "tokens")) for n in names)
    assert summarize([], 0, 1) == []


def _exact_cdf(k: int, n: int, q: Fraction) -> Fraction:
    return sum((math.comb(n, i) * q**i * (1 - q) ** (n - i) for i in range(k + 1)), Fraction(0))


@settings(max_examples=12, deadline=None)
@given(st.integers(1, 200), st.sampled_from([90.0, 99.0]))
def test_max_overlatency_against_exact_binomial(n: int, p: float) -> None:
    """LoadGen's t: the largest t >= 1 with P(t or fewer over) < 1%, or none below its minimum."""
    q = Fraction(100 - int(p), 100)
    alpha = Fraction(1, 100)
    brute = max((t for t in range(1, n + 1) if _exact_cdf(t, n, q) < alpha), default=-1)
    assert max_overlatency(n, p) == brute


def test_early_stopping_p90_refuses_63_queries_and_accepts_64() -> None:
    # By hand: with one query allowed over, P(X <= 1) = 0.9^n + n * 0.1 * 0.9^(n-1) must fall below 1%
    assert Fraction(9, 10) ** 63 + 63 * Fraction(1, 10) * Fraction(9, 10) ** 62 > Fraction(1, 100)
    assert Fraction(9, 10) ** 64 + 64 * Fraction(1, 10) * Fraction(9, 10) ** 63 < Fraction(1, 100)
    assert min_queries_for(90.0) == 64
    assert max_overlatency(63, 90.0) == -1 and max_overlatency(64, 90.0) == 1
    lat = [float(i) for i in range(1, 65)]
    assert early_stopping_estimate(lat[:63], 90.0) is None
    assert early_stopping_estimate(lat, 90.0) == 64.0  # t = 1: sorted[n - 1], nothing discarded
    reqs = [_req(i, 10 * i, 10 * i, [10 * i + 1 + i % 7, 10 * i + 9]) for i in range(64)]
    refused = validity(reqs[:63], 0, 640 * MS, scenario="single-stream", min_duration_s=0.1, min_queries=1)
    accepted = validity(reqs, 0, 640 * MS, scenario="single-stream", min_duration_s=0.1, min_queries=1)
    assert not refused["valid"] and refused["early_stopping"]["met"] is False
    assert "63 queries cannot support a p90 claim (need >= 64)" in refused["reasons"][0]
    assert accepted["valid"] and accepted["early_stopping"]["discarded"] == 0
    assert accepted["early_stopping"]["estimate_ms"] == max(e2el_ms(r) for r in reqs)


def test_early_stopping_p99_boundary_and_estimate_rank() -> None:
    assert Fraction(99, 100) ** 661 + 661 * Fraction(1, 100) * Fraction(99, 100) ** 660 > Fraction(1, 100)
    assert Fraction(99, 100) ** 662 + 662 * Fraction(1, 100) * Fraction(99, 100) ** 661 < Fraction(1, 100)
    assert min_queries_for(99.0) == 662
    assert max_overlatency(661, 99.0) == -1 and max_overlatency(662, 99.0) == 1
    # n = 1000 at p90: t is the largest with P(X <= t) < 1%; the estimate is sorted[n - t] (0-based)
    t = max_overlatency(1000, 90.0)
    q = Fraction(1, 10)
    assert _exact_cdf(t, 1000, q) < Fraction(1, 100) <= _exact_cdf(t + 1, 1000, q)
    lat = [float(i) for i in range(1, 1001)]
    assert early_stopping_estimate(lat, 90.0) == lat[1000 - t]  # one rank above what we used to report
    assert abs(binomial_cdf(3, 10, 0.5) - 176 / 1024) < 1e-12
    p = claimable_percentile(1000, t)
    assert 90.0 <= p < 91.0
    assert claimable_percentile(1000, t + 5) < 90.0


def test_server_rule_counts_queries_over_the_bound() -> None:
    # no query over: 0.99^h < 1% from h = 459 (0.99^458 > 1%); each query over needs more within
    assert Fraction(99, 100) ** 458 > Fraction(1, 100) > Fraction(99, 100) ** 459
    assert min_passing(0, 99.0) == 459 and min_passing(0, 90.0) == 44
    assert server_early_stopping([1.0] * 459, 5.0, 99.0)["met"]
    short = server_early_stopping([1.0] * 458, 5.0, 99.0)
    assert not short["met"] and short["more_queries_needed"] == 1
    over = server_early_stopping([1.0] * 600 + [9.0] * 3, 5.0, 99.0)
    assert over["overlatency"] == 3 and over["queries_needed"] == min_passing(3, 99.0) + 3


def test_validity_block() -> None:
    reqs = [_req(i, i * 10, i * 10, [i * 10 + 1, i * 10 + 2]) for i in range(64)]
    v = validity(reqs, 0, 640 * MS, scenario="single-stream", min_duration_s=0.4, min_queries=64)
    assert v["valid"], v["reasons"]
    assert v["early_stopping"]["met"] and v["early_stopping"]["percentile"] == 90.0
    assert v["early_stopping"]["min_queries"] == 64
    short = validity(reqs[:10], 0, 100 * MS, scenario="single-stream", min_duration_s=1.0, min_queries=20)
    assert not short["valid"] and len(short["reasons"]) == 3
    unclaimed = validity(reqs[:10], 0, 100 * MS, scenario="single-stream", min_duration_s=0.05, min_queries=8,
                         target_percentile=0.0)
    assert unclaimed["valid"] and unclaimed["early_stopping"] is None
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


def test_cov_is_over_service_time_so_offline_queueing_is_not_flagged() -> None:
    # Offline: every query scheduled at 0 and run back to back, each taking exactly 10 ms. Latency from the
    # scheduled time grows 10, 20, 30, ... (queueing); the service time (done - issued) does not move.
    reqs = [_req(i, 0, 10 * i, [10 * i + 4, 10 * i + 10]) for i in range(20)]
    v = validity(reqs, 0, 200 * MS, scenario="offline", min_duration_s=0, min_queries=0)
    assert v["service_time_cov"] == 0.0 and not v["cov_flag"]
    assert v["latency_cov"] > 0.5  # what the old flag looked at
