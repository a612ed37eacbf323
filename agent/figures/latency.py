"""Latency and throughput figures exactly as METRICS.md defines them; pure (numpy-free, mypy --strict).

`summarize()` turns raw per-request timestamps into figure dicts. It works on any subset of requests,
so the agent can rebuild partial figures for a run that was cut short. Validity (minimum duration and
count, LoadGen early stopping, service-time CoV) is in validity.py. Percentiles follow LoadGen's index by
default, or numpy's linear interpolation as vLLM's `bench serve` reports them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from fractions import Fraction

from wattfleet.agent.workloads.config import PERCENTILE_METHODS, SloConfig
from wattfleet.core.model.figure import Figure
from wattfleet.core.model.figure import figure_value as _figure_value
from wattfleet.core.model.query import Query

PERCENTILES: tuple[float, ...] = (50.0, 90.0, 95.0, 97.0, 99.0, 99.9)
NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
COV_FLAG = 0.025  # trtexec flags a coefficient of variation above 2.5%

MLPERF = "MLPerf LoadGen"
VLLM = "vLLM"
INFERENCE_PERF = "inference-perf"



# ---- percentiles -------------------------------------------------------------------------------

PERCENTILE_NOTES: dict[str, str] = {
    "loadgen": "percentile as MLPerf LoadGen: sorted[floor(p/100*n)]",
    "vllm": "percentile as vLLM: numpy linear interpolation",
}


def loadgen_index(n: int, p: float) -> int:
    """The 0-based index LoadGen's results.cc reads for percentile p of n sorted values: floor(p/100 * n).

    Computed exactly (p as the decimal it is written as), so 90.0 of 10 is index 9, not 8 from a float
    product of 8.999...; for LoadGen's own six percentiles this is the index its double product gives."""
    if n <= 0:
        raise ValueError("a percentile of no values")
    if not 0.0 <= p < 100.0:
        raise ValueError(f"percentile must be in [0, 100), got {p}")
    return math.floor(Fraction(repr(p)) * n / 100)


def linear_percentile(sorted_values: Sequence[float], p: float) -> float:
    """numpy.percentile's default ("linear") on already sorted values, in numpy's own arithmetic:
    the value at virtual index (n-1)*p/100, interpolated between its two neighbours."""
    n = len(sorted_values)
    if n == 0:
        raise ValueError("a percentile of no values")
    if not 0.0 <= p <= 100.0:
        raise ValueError(f"percentile must be in [0, 100], got {p}")
    virtual = (n - 1) * (p / 100.0)
    if virtual >= n - 1:
        return float(sorted_values[-1])
    below = math.floor(virtual)
    a, b = float(sorted_values[below]), float(sorted_values[below + 1])
    gamma = virtual - below
    diff = b - a
    return b - diff * (1.0 - gamma) if gamma >= 0.5 else a + diff * gamma


def percentile(sorted_values: Sequence[float], p: float, method: str = "loadgen") -> float:
    """Percentile p of already sorted values by `method` ("loadgen" or "vllm", see PERCENTILE_NOTES)."""
    if method == "loadgen":
        return float(sorted_values[loadgen_index(len(sorted_values), p)])
    if method == "vllm":
        return linear_percentile(sorted_values, p)
    raise ValueError(f"unknown percentile method {method!r}; expected one of {', '.join(PERCENTILE_METHODS)}")


def percentile_label(p: float) -> str:
    """50.0 -> "p50", 99.9 -> "p99.9"."""
    return "p" + (f"{p:g}")


# ---- per-request values ------------------------------------------------------------------------


def ttft_ms(r: Query) -> float:
    """First token - scheduled arrival (MLPerf LoadGen: queueing is not hidden)."""
    return (r.first_token_ns - r.scheduled_ns) / NS_PER_MS


def ttft_send_ms(r: Query) -> float:
    """First token - actual issue time (vLLM, inference-perf)."""
    return (r.first_token_ns - r.issued_ns) / NS_PER_MS


def e2el_ms(r: Query) -> float:
    """Last token (or completion) - scheduled arrival."""
    return (r.done_ns - r.scheduled_ns) / NS_PER_MS


def tpot_ms(r: Query) -> float | None:
    """(e2e - ttft) / (n_out - 1); None where n_out <= 1 (excluded, as MLPerf and vLLM do)."""
    if r.n_out <= 1:
        return None
    return (r.done_ns - r.first_token_ns) / NS_PER_MS / (r.n_out - 1)


def ntpot_ms(r: Query) -> float | None:
    """e2e / n_out (inference-perf's NTPOT, guidellm's TPOT); None without output tokens."""
    if r.n_out == 0:
        return None
    return e2el_ms(r) / r.n_out


def itl_ms(r: Query) -> list[float]:
    """Every gap between consecutive output tokens of one request."""
    t = r.token_ns
    return [(t[i] - t[i - 1]) / NS_PER_MS for i in range(1, len(t))]


def meets_slo(r: Query, slo: SloConfig) -> bool:
    """Whether one request meets every configured SLO (<=, as vLLM's --goodput).

    A request with n_out <= 1 has no tpot and meets a tpot SLO vacuously (vLLM counts its tpot as 0).
    """
    if slo.ttft_ms is not None and ttft_ms(r) > slo.ttft_ms:
        return False
    if slo.tpot_ms is not None:
        tp = tpot_ms(r)
        if tp is not None and tp > slo.tpot_ms:
            return False
    return not (slo.e2el_ms is not None and e2el_ms(r) > slo.e2el_ms)


def slo_configured(slo: SloConfig) -> bool:
    return slo.ttft_ms is not None or slo.tpot_ms is not None or slo.e2el_ms is not None


def measured(requests: Iterable[Query]) -> list[Query]:
    """Requests that count: not warm-up, and completed."""
    return [r for r in requests if not r.warmup and r.done_ns > 0]


def is_generative(requests: Sequence[Query]) -> bool:
    return any(r.token_ns for r in requests)


def per_request_values(requests: Iterable[Query]) -> dict[str, list[float]]:
    """Raw per-request values (ms) of every latency metric; itl is pooled over all requests."""
    rs = measured(requests)
    out: dict[str, list[float]] = {k: [] for k in ("ttft", "ttft_send", "tpot", "ntpot", "itl", "e2el")}
    for r in rs:
        out["e2el"].append(e2el_ms(r))
        if not r.token_ns:
            continue
        out["ttft"].append(ttft_ms(r))
        out["ttft_send"].append(ttft_send_ms(r))
        out["itl"].extend(itl_ms(r))
        tp = tpot_ms(r)
        if tp is not None:
            out["tpot"].append(tp)
        nt = ntpot_ms(r)
        if nt is not None:
            out["ntpot"].append(nt)
    return out


# ---- figures -----------------------------------------------------------------------------------

_DEFINITIONS: dict[str, str] = {
    "ttft": f"{MLPERF}: first token - scheduled arrival",
    "ttft_send": f"{VLLM}: first token - request issued",
    "tpot": f"{MLPERF}, {VLLM}: (e2e - ttft) / (n_out - 1), n_out > 1",
    "ntpot": f"{INFERENCE_PERF}: e2e / n_out",
    "itl": f"{VLLM}: gaps between consecutive tokens, pooled",
    "e2el": f"{MLPERF} sample latency: last token - scheduled arrival",
    "latency": f"{MLPERF} sample latency: completion - scheduled arrival",
    "tokens_per_s": f"{VLLM} output throughput: tokens completed in window / window",
    "requests_per_s": f"{VLLM} request throughput: requests completed in window / window",
    "samples_per_s": f"{MLPERF} Offline: samples completed in window / window",
    "goodput": f"{VLLM} --goodput: requests meeting every SLO / window",
}


def figure(
    name: str, value: float, unit: str, definition: str, *, domain: str = "", low_confidence: bool = False
) -> Figure:
    """A latency or throughput figure (the one Figure type: core/model/figure.py)."""
    return Figure(name, float(value), unit, domain, definition, bool(low_confidence))


def _distribution(metric: str, values: Sequence[float], method: str) -> list[Figure]:
    if not values:
        return []
    s = sorted(values)
    n = len(s)
    definition = _DEFINITIONS[metric]
    figs = [figure(f"{metric}_mean", math.fsum(s) / n, "ms", definition, low_confidence=n < 2)]
    for p in PERCENTILES:
        # A percentile needs at least 100/(100-p) samples to be resolved at all.
        needed = math.ceil(round(100.0 / (100.0 - p), 9))
        name = f"{metric}_{percentile_label(p)}"
        figs.append(figure(name, percentile(s, p, method), "ms", f"{definition}; {PERCENTILE_NOTES[method]}",
                           low_confidence=n < needed))
    return figs


def in_window(t_ns: int, t0_ns: int, t1_ns: int) -> bool:
    return t0_ns <= t_ns <= t1_ns


def summarize(
    requests: Iterable[Query],
    t0_ns: int,
    t1_ns: int,
    slo: SloConfig | None = None,
    method: str = "loadgen",
) -> list[Figure]:
    """Figures of a run from raw timings: latency distributions over every measured request given,
    throughput (tokens, requests, samples, goodput) over what completed inside [t0_ns, t1_ns].

    `method` picks the percentile definition ("loadgen" or "vllm"); the raw timings stay the source."""
    if method not in PERCENTILE_METHODS:
        raise ValueError(f"unknown percentile method {method!r}; expected one of {', '.join(PERCENTILE_METHODS)}")
    slo = slo or SloConfig()
    rs = measured(requests)
    if not rs:
        return []
    duration_s = max(t1_ns - t0_ns, 1) / NS_PER_S
    generative = is_generative(rs)
    values = per_request_values(rs)
    figs: list[Figure] = []
    metrics = ("ttft", "ttft_send", "tpot", "ntpot", "itl", "e2el") if generative else ()
    for metric in metrics:
        figs.extend(_distribution(metric, values[metric], method))
    if not generative:
        figs.extend(_distribution("latency", values["e2el"], method))
    done = [r for r in rs if in_window(r.done_ns, t0_ns, t1_ns)]
    if generative:
        tokens = sum(1 for r in rs for t in r.token_ns if in_window(t, t0_ns, t1_ns))
        figs.append(figure("tokens_per_s", tokens / duration_s, "tok/s", _DEFINITIONS["tokens_per_s"]))
        figs.append(figure("requests_per_s", len(done) / duration_s, "req/s", _DEFINITIONS["requests_per_s"]))
    else:
        samples = sum(r.samples for r in done)
        figs.append(figure("samples_per_s", samples / duration_s, "samples/s", _DEFINITIONS["samples_per_s"]))
        qps = len(done) / duration_s
        figs.append(figure("queries_per_s", qps, "queries/s", _DEFINITIONS["requests_per_s"]))
    if slo_configured(slo):
        good = sum(1 for r in done if meets_slo(r, slo))
        figs.append(figure("goodput", good / duration_s, "req/s", _DEFINITIONS["goodput"]))
    return figs


figure_value = _figure_value  # the model's: the value of the first figure called `name`, or None
