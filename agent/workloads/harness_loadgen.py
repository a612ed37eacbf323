"""MLPerf LoadGen as the query issuer (load.harness = "loadgen", extra wattfleet[mlperf]).

LoadGen schedules and times the queries (SingleStream, Server, Offline; first-token and per-token
latencies through FirstTokenComplete with use_token_latencies); our QueryExecutor serves them, so our
own per-query timings are recorded too. The run's window is LoadGen's own (its power_begin/power_end),
and the record carries LoadGen's summary, its log files and `loadgen_logs.agreement()` beside ours.

LoadGen has no way to stop a test early: a cancelled run completes the queries LoadGen still issues
without running them, so LoadGen ends at its own duration and query limits. LoadGen keeps one logger per
process, so one process runs one LoadGen test at a time; a second is refused, not queued.
"""

from __future__ import annotations

import array
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from wattfleet.agent.figures.validity import claimed_percentile
from wattfleet.agent.workloads.config import LoadConfig, SloConfig
from wattfleet.agent.workloads.loadgen_logs import (
    TraceSample,
    agreement,
    read_detail,
    read_trace,
    reported_percentiles,
    utc_ms_to_unix_ns,
)
from wattfleet.agent.workloads.scenarios import PROMPT_POOL, QueryExecutor, Window, _warmup
from wattfleet.core.errors import WattfleetError

INSTALL_HINT = ("load.harness = \"loadgen\" needs MLPerf LoadGen, which is not installed here: "
                "pip install 'wattfleet[mlperf]'")
NO_TARGET_NS = 3_600_000_000_000  # latency target given to LoadGen when the profile sets no SLO: 1 h, no constraint
_SCENARIOS = {"single-stream": "SingleStream", "server": "Server", "offline": "Offline"}
_RESPONSE = array.array("B", bytes(8))  # LoadGen copies response data only for accuracy logs; a stub serves
_ONE_AT_A_TIME = threading.Lock()
_LOG_FILES = ("mlperf_log_summary.txt", "mlperf_log_detail.txt", "mlperf_log_trace.json", "mlperf_log_accuracy.json")


def require() -> Any:
    """The mlperf_loadgen module, or one line saying how to install it."""
    try:
        import mlperf_loadgen
    except ImportError as exc:
        raise WattfleetError(INSTALL_HINT) from exc
    return mlperf_loadgen


def _targets_ns(load: LoadConfig, slo: SloConfig, generative: bool) -> dict[str, int]:
    def ns(ms: float | None) -> int:
        return int(ms * 1e6) if ms is not None else NO_TARGET_NS

    if generative:
        return {"ttft": ns(slo.ttft_ms), "tpot": ns(slo.tpot_ms), "latency": ns(slo.e2el_ms)}
    return {"latency": ns(slo.e2el_ms)}


def loadgen_settings(lg: Any, load: LoadConfig, slo: SloConfig, *, generative: bool, expected_latency_ns: int,
                  expected_qps: float) -> Any:
    """LoadGen's TestSettings for a profile's load (load already resolved: min_queries set)."""
    ts = lg.TestSettings()
    ts.scenario = getattr(lg.TestScenario, _SCENARIOS[load.scenario])
    ts.mode = lg.TestMode.PerformanceOnly
    ts.min_duration_ms = int(load.min_duration_s * 1000)
    ts.max_duration_ms = int((load.max_duration_s or 0.0) * 1000)
    ts.min_query_count = int(load.min_queries or 0)
    ts.max_query_count = int(load.max_queries)
    ts.qsl_rng_seed = ts.sample_index_rng_seed = ts.schedule_rng_seed = int(load.seed)
    claim = claimed_percentile(load.scenario, load.target_latency_percentile)
    fraction = (claim if claim is not None else 90.0 if load.scenario == "single-stream" else 99.0) / 100.0
    ts.single_stream_target_latency_percentile = fraction
    ts.server_target_latency_percentile = fraction
    ts.single_stream_expected_latency_ns = max(1, expected_latency_ns)
    ts.server_target_qps = float(load.rate_qps)
    ts.offline_expected_qps = max(expected_qps, 1e-3)
    targets = _targets_ns(load, slo, generative)
    ts.server_target_latency_ns = targets["latency"]
    ts.use_token_latencies = generative
    if generative:
        ts.ttft_latency, ts.tpot_latency = targets["ttft"], targets["tpot"]
    return ts


class _Sut:
    """LoadGen's system under test: each issued sample (or, offline, each chunk of batch_size samples)
    goes to a worker that runs it through our QueryExecutor and reports back to LoadGen."""

    def __init__(self, lg: Any, ex: QueryExecutor, workers: int) -> None:
        self.lg, self.ex = lg, ex
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wattfleet-loadgen")
        self.query_ids: list[int] = []  # our query id for each LoadGen sample sequence number
        self.n_tokens: list[int] = []
        self.first_issue_ns = 0

    def issue(self, samples: Sequence[Any]) -> None:  # on LoadGen's issue thread: hand over, return
        now = time.monotonic_ns()
        self.first_issue_ns = self.first_issue_ns or now
        chunk = self.ex.load.batch_size if self.ex.load.scenario == "offline" else 1
        for i in range(0, len(samples), chunk):
            part = [(s.id, s.index, len(self.query_ids) + k) for k, s in enumerate(samples[i:i + chunk])]
            self.query_ids.extend([-1] * len(part))
            self.n_tokens.extend([0] * len(part))
            self.pool.submit(self._serve, part, now)

    def _serve(self, part: list[tuple[int, int, int]], scheduled_ns: int) -> None:
        lg, ex, rec = self.lg, self.ex, self.ex.recorder
        firsts: set[int] = set()

        def on_token(b: int, k: int, t_ns: int) -> None:
            if k == 0:
                firsts.add(b)
                lg.FirstTokenComplete([lg.QuerySampleResponse(part[b][0], _RESPONSE.buffer_info()[0], 0)])

        timings = []
        try:
            if not (rec.cancel.is_set() or rec.failed.is_set()):
                timings = ex.run(scheduled_ns, warmup=False, prompt_ids=[idx for _, idx, _ in part],
                                 on_token=on_token if ex.generative else None)
        except BaseException as exc:  # handed to the driver; LoadGen still gets its completion below
            rec.fail(exc)
        finally:
            self._complete(part, timings, firsts)

    def _complete(self, part: list[tuple[int, int, int]], timings: list[Any], firsts: set[int]) -> None:
        lg, ptr = self.lg, _RESPONSE.buffer_info()[0]
        responses = []
        for b, (sample_id, _, seq) in enumerate(part):
            if self.ex.generative:
                n_out = timings[b].n_out if b < len(timings) else 2
                if b not in firsts:  # a sample we did not run: LoadGen needs its first token first
                    lg.FirstTokenComplete([lg.QuerySampleResponse(sample_id, ptr, 0)])
                responses.append(lg.QuerySampleResponse(sample_id, ptr, 0, n_out))
                self.n_tokens[seq] = n_out
            else:
                responses.append(lg.QuerySampleResponse(sample_id, ptr, 0))
            self.query_ids[seq] = timings[b if self.ex.generative else 0].query_id if timings else -1
        lg.QuerySamplesComplete(responses)


def _expectations(ex: QueryExecutor) -> tuple[int, float]:
    """From the warm-up: the fastest query's service time (LoadGen's single-stream expected latency) and,
    unless load.expected_qps is set, twice the samples per second that time gives with every stream busy
    (its offline expected qps). LoadGen sizes its queries from these; too low a guess ends the test before
    min_duration_s, too high only makes it longer."""
    warm = [r for r in ex.recorder.requests if r.warmup]
    fastest = min((r.done_ns - r.issued_ns for r in warm), default=1_000_000)
    qps = ex.load.expected_qps or 2 * ex.load.batch_size * max(1, ex.load.concurrency) / (max(fastest, 1) / 1e9)
    return max(1, fastest), qps


def _ended_by(detail: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """Our ended_by for how LoadGen ended (its message, else its own minimums), and a note where they are
    not the same thing."""
    messages = " ".join(detail.get("messages", []))
    if "Max test duration" in messages:
        return "max_duration_s", ()
    if "Ran out of generated queries" in messages:
        return "max_queries", ("LoadGen ran out of the queries it generated: its expected latency or qps was "
                               "too high for this system",)
    if detail.get("result_min_duration_met") and detail.get("result_min_queries_met"):
        return "limits met", ()
    return "max_queries", ()


def run_loadgen(ex: QueryExecutor, slo: SloConfig, log_dir: Path, anchor_unix_ns: int,
                anchor_mono_ns: int) -> tuple[Window, dict[str, Any]]:
    """Warm up, let LoadGen run the test, and return LoadGen's window (on our monotonic clock) and the
    record's "loadgen" block: LoadGen's verdict, percentiles, early stopping, log files, agreement."""
    lg = require()
    if ex.generative and ex.load.output_tokens < 2:
        raise WattfleetError(f"load.output_tokens: LoadGen's token latencies need at least 2 output tokens, "
                             f"got {ex.load.output_tokens}")
    if not _ONE_AT_A_TIME.acquire(blocking=False):
        raise WattfleetError("another MLPerf LoadGen test is running in this process, and LoadGen runs one at a "
                             "time; wait for it, or use load.harness = \"native\"")
    try:
        sut = _test(lg, ex, slo, log_dir)
    finally:
        _ONE_AT_A_TIME.release()
    return _result(ex, sut, log_dir, anchor_unix_ns, anchor_mono_ns)


def _test(lg: Any, ex: QueryExecutor, slo: SloConfig, log_dir: Path) -> _Sut:
    """Warm-up, then one LoadGen test with our SUT; its logs land in log_dir."""
    load = ex.load
    _warmup(ex)
    expected_latency_ns, expected_qps = _expectations(ex)
    settings = loadgen_settings(lg, load, slo, generative=ex.generative, expected_latency_ns=expected_latency_ns,
                                expected_qps=expected_qps)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = lg.LogSettings()
    log.log_output.outdir = str(log_dir)
    log.log_output.copy_summary_to_stdout = False
    log.enable_trace = True  # the only place LoadGen writes each sample's latency
    workers = {"single-stream": 1, "server": load.server_workers, "offline": max(1, load.concurrency)}
    sut = _Sut(lg, ex, workers[load.scenario])
    lg_sut = lg.ConstructSUT(sut.issue, lambda: None)
    qsl = lg.ConstructQSL(PROMPT_POOL, PROMPT_POOL, lambda indices: None, lambda indices: None)
    ex.recorder.begin()
    try:
        lg.StartTestWithLogSettings(lg_sut, qsl, settings, log)
    finally:
        sut.pool.shutdown(wait=True)
        lg.DestroyQSL(qsl)
        lg.DestroySUT(lg_sut)
    return sut


def _result(ex: QueryExecutor, sut: _Sut, log_dir: Path, anchor_unix_ns: int,
            anchor_mono_ns: int) -> tuple[Window, dict[str, Any]]:
    """LoadGen's window on our clock, how it ended, and the record's "loadgen" block, from its logs."""
    rec = ex.recorder
    detail = read_detail(log_dir / "mlperf_log_detail.txt")
    samples: list[TraceSample] = read_trace(log_dir / "mlperf_log_trace.json")

    def mono(unix_ns: int) -> int:
        return anchor_mono_ns + unix_ns - anchor_unix_ns

    ours = (sut.first_issue_ns or rec.begin_ns, max(rec.last_done_ns, sut.first_issue_ns or rec.begin_ns))
    if "power_begin" in detail and "power_end" in detail:  # UTC at whole ms: widen to the ms that holds it
        t0 = mono(utc_ms_to_unix_ns(str(detail["power_begin"])))
        t1 = mono(utc_ms_to_unix_ns(str(detail["power_end"])) + 1_000_000)
        source = "MLPerf LoadGen power_begin..power_end (UTC, ms; widened to whole ms)"
    else:
        (t0, t1), source = ours, "first issue to last completion (LoadGen logged no power window)"
    ended_by, notes = _ended_by(detail)
    if rec.failed.is_set() or rec.cancel.is_set():
        ended_by = "failed" if rec.failed.is_set() else "cancelled"
    # The record's integers stay below 2^53: the block's times are relative to the run's anchor.
    block = summary_block(detail, log_dir, source, (t0 - anchor_mono_ns, t1 - anchor_mono_ns),
                          (ours[0] - anchor_mono_ns, ours[1] - anchor_mono_ns))
    block["agreement"] = agreement(detail, samples, sut.n_tokens, sut.query_ids, _own(ex, sut.query_ids))
    return Window(t0, t1, ended_by, tuple(notes)), block


def _own(ex: QueryExecutor, query_ids: Sequence[int]) -> list[TraceSample]:
    """Our timings of LoadGen's samples, by sample sequence number, from our issue-callback time."""
    by_id = {r.query_id: r for r in ex.recorder.requests}
    out = []
    for seq, rid in enumerate(query_ids):
        r = by_id.get(rid)
        if r is not None:
            first = r.first_token_ns - r.scheduled_ns if r.token_ns else None
            out.append(TraceSample(seq, r.done_ns - r.scheduled_ns, first))
    return out


def summary_block(detail: dict[str, Any], log_dir: Path, source: str, window: tuple[int, int],
                  ours: tuple[int, int]) -> dict[str, Any]:
    """What the record keeps of LoadGen's own result."""
    keys = ("early_stopping_result", "early_stopping_ttft_result", "early_stopping_tpot_result")
    return {
        "version": detail.get("loadgen_version", ""),
        "scenario": detail.get("effective_scenario", ""),
        "result": detail.get("result_validity", ""),
        "invalid_reason": " ".join(str(detail.get("result_invalid_reason", "")).split()),
        "min_duration_met": detail.get("result_min_duration_met"),
        "min_queries_met": detail.get("result_min_queries_met"),
        "early_stopping_met": detail.get("early_stopping_met"),
        "perf_constraints_met": detail.get("result_perf_constraints_met"),
        "early_stopping": {k: " ".join(str(detail[k]).split()) for k in keys if str(detail.get(k, "")).strip()},
        "early_stopping_latency_ss_ns": detail.get("early_stopping_latency_ss"),
        "query_count": detail.get("result_query_count"),
        "percentiles_ns": {m: {f"p{p:g}": v for p, v in ps.items()} for m, ps in reported_percentiles(detail).items()},
        "settings": {k[len("effective_"):]: v for k, v in detail.items() if k.startswith("effective_")},
        "ended": detail.get("messages", []),
        "window": {"t0_ns": window[0], "t1_ns": window[1], "source": source,  # relative to the anchor
                   "first_issue_ns": ours[0], "last_done_ns": ours[1]},
        "log_dir": str(log_dir),
        "files": [name for name in _LOG_FILES if (log_dir / name).is_file()],
    }
