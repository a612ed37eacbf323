"""Our ttft, tpot, itl, goodput and throughput equal what vLLM's benchmark and MLPerf LoadGen compute
from the same raw timestamps. Both references are written here, independently of metrics.py, from
their published definitions (vLLM benchmarks/benchmark_serving.py `calculate_metrics`; MLPerf LoadGen's
LLM latency rules: first-token latency and TPOT from the scheduled query time)."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np

from wattfleet.agent.figures.latency import Query, figure_value, per_request_values, summarize
from wattfleet.agent.workloads.config import SloConfig

NS = 1_000_000_000


def _timings(seed: int, n: int = 120) -> list[Query]:
    rng = np.random.default_rng(seed)
    out = []
    sched = 0
    for i in range(n):
        sched += int(rng.exponential(0.05) * NS)
        issued = sched + int(rng.integers(0, 3_000_000))  # a little scheduler lag
        n_out = int(rng.integers(1, 12))
        gaps = rng.gamma(2.0, 0.004, size=n_out) * NS
        tokens = tuple(int(issued + g) for g in np.cumsum(gaps))
        out.append(Query(i, sched, issued, tokens[-1], tokens))
    return out


def _vllm(reqs: list[Query], duration_s: float, goodput_ms: dict[str, float]) -> dict[str, object]:
    """vLLM's calculate_metrics: times in seconds from the request's send time."""
    ttfts, tpots, all_tpots, itls, e2els, total_out, good = [], [], [], [], [], 0, 0
    for r in reqs:
        send = r.issued_ns / NS
        stamps = [t / NS for t in r.token_ns]
        ttft = stamps[0] - send
        latency = stamps[-1] - send
        output_len = len(stamps)
        tpot = 0.0
        if output_len > 1:
            tpot = (latency - ttft) / (output_len - 1)
            tpots.append(tpot)
        all_tpots.append(tpot)
        itls += [b - a for a, b in itertools.pairwise(stamps)]
        ttfts.append(ttft)
        e2els.append(latency)
        total_out += output_len
    metrics, slos = [], []
    if "ttft" in goodput_ms:
        metrics.append(ttfts)
        slos.append(goodput_ms["ttft"] / 1000)
    if "tpot" in goodput_ms:
        metrics.append(all_tpots)
        slos.append(goodput_ms["tpot"] / 1000)
    if "e2el" in goodput_ms:
        metrics.append(e2els)
        slos.append(goodput_ms["e2el"] / 1000)
    for req_metric in zip(*metrics, strict=True):
        if all(s >= m for s, m in zip(slos, req_metric, strict=True)):
            good += 1
    return {
        "ttfts_ms": [x * 1000 for x in ttfts],
        "tpots_ms": [x * 1000 for x in tpots],
        "itls_ms": [x * 1000 for x in itls],
        "e2els_ms": [x * 1000 for x in e2els],
        "output_throughput": total_out / duration_s,
        "request_goodput": good / duration_s,
        "mean_ttft_ms": float(np.mean(ttfts) * 1000),
        "p99_itl_ms": float(np.percentile(itls, 99) * 1000),
    }


def _loadgen(reqs: list[Query]) -> dict[str, list[float]]:
    """LoadGen: latencies from the scheduled time; TPOT = (latency - first token) / (tokens - 1)."""
    ttft, tpot = [], []
    for r in reqs:
        first = (r.token_ns[0] - r.scheduled_ns) / 1e6
        latency = (r.token_ns[-1] - r.scheduled_ns) / 1e6
        ttft.append(first)
        if len(r.token_ns) > 1:
            tpot.append((latency - first) / (len(r.token_ns) - 1))
    return {"ttft": ttft, "tpot": tpot}


def _loadgen_percentile(values: list[float], p: float) -> float:
    """LoadGen's results.cc reads sorted latencies[n * percentile], the index truncated: floor(p * n)."""
    s = sorted(values)
    return s[int(len(s) * Fraction(str(p)) / 100)]


def test_against_vllm() -> None:
    reqs = _timings(seed=1)
    t0 = min(r.scheduled_ns for r in reqs)
    t1 = max(r.done_ns for r in reqs)
    slo = {"ttft": 12.0, "tpot": 9.0}
    ref = _vllm(reqs, (t1 - t0) / NS, slo)
    ours = per_request_values(reqs)
    np.testing.assert_allclose(ours["ttft_send"], ref["ttfts_ms"], rtol=1e-9)
    np.testing.assert_allclose(ours["tpot"], ref["tpots_ms"], rtol=1e-9)
    np.testing.assert_allclose(ours["itl"], ref["itls_ms"], rtol=1e-9)
    # vLLM's E2EL is from send; ours from the scheduled time: equal once lag is removed
    lag = [(r.issued_ns - r.scheduled_ns) / 1e6 for r in reqs]
    np.testing.assert_allclose(np.subtract(ours["e2el"], lag), ref["e2els_ms"], rtol=1e-9)
    figs = summarize(reqs, t0, t1, SloConfig(ttft_ms=slo["ttft"], tpot_ms=slo["tpot"]))
    assert math.isclose(figure_value(figs, "tokens_per_s") or 0, ref["output_throughput"], rel_tol=1e-12)
    assert math.isclose(figure_value(figs, "ttft_send_mean") or 0, ref["mean_ttft_ms"], rel_tol=1e-9)
    # vLLM interpolates percentiles; the raw values we keep reproduce them
    assert math.isclose(float(np.percentile(ours["itl"], 99)), ref["p99_itl_ms"], rel_tol=1e-9)
    # goodput: vLLM's ttft is from send; with no scheduler lag the two agree exactly
    no_lag = [Query(r.query_id, r.issued_ns, r.issued_ns, r.done_ns, r.token_ns) for r in reqs]
    ref_nl = _vllm(no_lag, (t1 - t0) / NS, slo)
    figs_nl = summarize(no_lag, t0, t1, SloConfig(ttft_ms=slo["ttft"], tpot_ms=slo["tpot"]))
    assert ref_nl["request_goodput"] > 0
    assert math.isclose(figure_value(figs_nl, "goodput") or 0, ref_nl["request_goodput"], rel_tol=1e-12)


def test_against_mlperf_loadgen() -> None:
    reqs = _timings(seed=2, n=257)
    ref = _loadgen(reqs)
    ours = per_request_values(reqs)
    np.testing.assert_allclose(ours["ttft"], ref["ttft"], rtol=1e-9)
    np.testing.assert_allclose(ours["tpot"], ref["tpot"], rtol=1e-9)
    figs = summarize(reqs, 0, max(r.done_ns for r in reqs))
    for p in (50, 90, 95, 97, 99, 99.9):
        assert figure_value(figs, f"ttft_p{p:g}") == _loadgen_percentile(ref["ttft"], p)
        ours_tpot = figure_value(figs, f"tpot_p{p:g}") or 0.0
        assert math.isclose(ours_tpot, _loadgen_percentile(ref["tpot"], p), rel_tol=1e-12)
    # vLLM's percentiles are numpy's default interpolation over the raw values the record keeps
    vllm = summarize(reqs, 0, max(r.done_ns for r in reqs), method="vllm")
    for p in (50, 90, 99):
        assert figure_value(vllm, f"tpot_p{p:g}") == float(np.percentile(ours["tpot"], p))
