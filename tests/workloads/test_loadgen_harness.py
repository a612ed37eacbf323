"""Our statistics against MLPerf LoadGen's own package (the mlcommons-loadgen wheel), not a copy of it.

LoadGen runs here for real: first with a stub system under test, at the early-stopping thresholds, then
as the harness of `load.harness = "loadgen"` on the built-in tiny decoder, where our percentile index and
early-stopping rules, applied to LoadGen's own per-sample latencies (its trace), must pick the same
sample at every percentile LoadGen reports and reach the same verdict. Each assertion prints the
agreement line by line.
"""

from __future__ import annotations

import array
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from traces import Track, constant, write_power_trace

from wattfleet.agent.figures.validity import min_queries_for
from wattfleet.agent.workloads.config import LoadConfig, ModelConfig, Profile, RuntimeConfig, SloConfig
from wattfleet.agent.workloads.driver import run_profile
from wattfleet.agent.workloads.loadgen_logs import agreement, agreement_lines, read_detail, read_trace
from wattfleet.core.model import RunRecord

lg = pytest.importorskip("mlperf_loadgen", reason="needs the mlcommons-loadgen wheel: pip install 'wattfleet[mlperf]'")

_BUF = array.array("B", bytes(8))


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def _stub_run(out: Path, scenario: str, n: int, percentile: float, target_ns: int = 0,
              slow_every: int = 0, qps: float = 5000.0) -> tuple[dict[str, Any], list[Any]]:
    """LoadGen with a system under test that answers at once (every `slow_every`-th sample 1 ms later)."""
    ptr = _BUF.buffer_info()[0]

    def issue(samples: Any) -> None:
        for s in samples:
            if slow_every and s.index % slow_every == 0:
                time.sleep(0.001)
            lg.QuerySamplesComplete([lg.QuerySampleResponse(s.id, ptr, 0)])

    sut = lg.ConstructSUT(issue, lambda: None)
    qsl = lg.ConstructQSL(16, 16, lambda s: None, lambda s: None)
    ts = lg.TestSettings()
    ts.scenario = getattr(lg.TestScenario, scenario)
    ts.mode = lg.TestMode.PerformanceOnly
    ts.min_query_count = ts.max_query_count = n
    ts.min_duration_ms = 0
    ts.single_stream_target_latency_percentile = ts.server_target_latency_percentile = percentile / 100
    ts.single_stream_expected_latency_ns = 50_000
    ts.server_target_qps = qps
    ts.server_target_latency_ns = target_ns or 100_000_000
    log = lg.LogSettings()
    out.mkdir(parents=True, exist_ok=True)
    log.log_output.outdir = str(out)
    log.enable_trace = True
    try:
        lg.StartTestWithLogSettings(sut, qsl, ts, log)
    finally:
        lg.DestroyQSL(qsl)
        lg.DestroySUT(sut)
    return read_detail(out / "mlperf_log_detail.txt"), read_trace(out / "mlperf_log_trace.json")


@pytest.mark.parametrize(("percentile", "n"), [(90.0, 63), (90.0, 64), (90.0, 100), (90.0, 1000),
                                               (99.0, 661), (99.0, 662), (99.0, 1500)])
def test_single_stream_early_stopping_query_for_query(tmp_path: Path, percentile: float, n: int) -> None:
    detail, samples = _stub_run(tmp_path, "SingleStream", n, percentile)
    assert len(samples) == n
    agree = agreement(detail, samples, [0] * n)
    lines = "\n".join(agreement_lines(agree))
    es = next(e for e in agree["early_stopping"] if e["metric"] == "latency")
    assert es["loadgen"]["queries_needed"] == min_queries_for(percentile) == {90.0: 64, 99.0: 662}[percentile], lines
    assert es["loadgen"]["met"] is (n >= min_queries_for(percentile)), lines
    assert es["same"] and agree["all_same"], f"LoadGen and we differ at n={n}, p{percentile:g}:\n{lines}"


@pytest.mark.parametrize(("slow_every", "target_ns", "qps"),
                         [(0, 100_000_000, 5000.0), (16, 500_000, 500.0), (4, 500_000, 5000.0)])
def test_server_early_stopping_query_for_query(tmp_path: Path, slow_every: int, target_ns: int, qps: float) -> None:
    # none over the target (passes), a few over (fails, short by a few hundred), most over (far short)
    detail, samples = _stub_run(tmp_path, "Server", 300, 90.0, target_ns=target_ns, slow_every=slow_every, qps=qps)
    agree = agreement(detail, samples, [0] * len(samples))
    lines = "\n".join(agreement_lines(agree))
    es = next(e for e in agree["early_stopping"] if e["metric"] == "latency")
    over = sum(1 for s in samples if s.latency_ns > target_ns)
    assert "loadgen" in es and es["same"], f"server rule with {over} of {len(samples)} over:\n{lines}"
    assert agree["all_same"], lines


def _profile(model: str, scenario: str, **load: Any) -> Profile:
    slo = load.pop("slo", SloConfig(ttft_ms=200.0, tpot_ms=100.0))
    return Profile(name=f"lg-{scenario}", model=ModelConfig(builtin=model), runtime=RuntimeConfig(intra_op_threads=1),
                   load=LoadConfig(scenario=scenario, harness="loadgen", prompt_tokens=6, output_tokens=4,
                                   warmup_queries=2, min_duration_s=0.3, seed=3, **load), slo=slo)


def _check_agreement(record: RunRecord, metrics: set[str]) -> str:
    assert record.state == "completed", record.error
    block = record.extras["loadgen"]
    assert block is not None
    agree = block["agreement"]
    lines = "\n".join(agreement_lines(agree))
    rows = agree["percentiles"]
    assert {r["metric"] for r in rows} == metrics, lines
    assert len(rows) == 6 * len(metrics), lines  # p50, p90, p95, p97, p99, p99.9 of each
    assert all(r["same"] for r in rows), f"a percentile picked another sample than LoadGen's:\n{lines}"
    assert agree["all_same"], f"our rules and LoadGen's differ:\n{lines}"
    if block["scenario"] != "Offline":  # offline is one query of many samples
        assert agree["samples"] == block["query_count"], lines
    # our own per-query timings of the same queries are in the record too
    measured = [r for r in record.queries if not r.warmup]
    assert len(measured) == agree["samples"], lines
    assert {r["query_id"] for r in rows} <= {r.query_id for r in measured}, lines
    assert set(block["files"]) >= {"mlperf_log_summary.txt", "mlperf_log_detail.txt", "mlperf_log_trace.json"}
    assert all((Path(block["log_dir"]) / f).is_file() for f in block["files"])
    assert RunRecord.from_json(record.to_json()).extras["loadgen"] == block
    return lines


def test_single_stream_on_the_tiny_decoder(tmp_path: Path, cache: Path) -> None:
    from wattfleet.agent.telemetry import ReplaySource, Sampler

    trace = tmp_path / "flat.csv"
    write_power_trace(trace, [Track("nvml", "gpu-board:0", constant(100.0))], rows=2000, step_ns=5_000_000)
    sampler = Sampler([ReplaySource(trace, loop=True)], rate_hz=200.0).start()
    try:
        record = run_profile(_profile("decoder-tiny", "single-stream"), cache_dir=cache, sampler=sampler,
                             loadgen_dir=tmp_path / "mlperf")
    finally:
        sampler.stop()
    lines = _check_agreement(record, {"latency", "first_token", "tpot"})
    block = record.extras["loadgen"]
    assert block is not None and block["result"] == "VALID", f"{block['invalid_reason']}\n{lines}"
    stops = {e["metric"]: e for e in block["agreement"]["early_stopping"]}
    assert {"first_token", "tpot", "verdict"} <= stops.keys() and stops["verdict"]["ours"]["met"], lines
    assert all("approximate" not in e for e in stops.values() if e["metric"] != "verdict"), lines
    # the record's window, and the energy over it, are LoadGen's own
    anchor = record.window.anchor_mono_ns  # the block's times, like every time in the record, are relative to it
    assert (record.window.t0_ns - anchor, record.window.t1_ns - anchor) == (block["window"]["t0_ns"],
                                                                             block["window"]["t1_ns"])
    assert "LoadGen" in record.window.source and record.window.ended_by == "limits met"
    energy = {f.name: f for f in record.figures if f.domain == "gpu-board:0"}
    assert abs((energy["power_avg_w"].value or 0.0) - 100.0) < 5.0 and record.energy
    assert record.validity.valid, record.validity.reasons
    print(lines)


def test_server_on_squeezenet_with_a_latency_target(tmp_path: Path, cache: Path) -> None:
    # p90 at 100 queries/s: LoadGen's Server rule over sample latencies against the e2el SLO, exactly
    record = run_profile(_profile("cnn-squeezenet", "server", rate_qps=100.0, server_workers=2,
                                  target_latency_percentile=90.0, slo=SloConfig(e2el_ms=100.0)),
                         cache_dir=cache, loadgen_dir=tmp_path / "mlperf")
    lines = _check_agreement(record, {"latency"})
    stops = {e["metric"]: e for e in (record.extras["loadgen"] or {})["agreement"]["early_stopping"]}
    assert "loadgen" in stops["latency"] and stops["latency"]["same"], lines
    assert record.extras["loadgen"] is not None and record.extras["loadgen"]["scenario"] == "Server"


def test_offline_on_the_tiny_decoder(tmp_path: Path, cache: Path) -> None:
    record = run_profile(_profile("decoder-tiny", "offline", batch_size=2, concurrency=1), cache_dir=cache,
                         loadgen_dir=tmp_path / "mlperf")
    _check_agreement(record, {"latency"})
    assert record.extras["loadgen"] is not None and record.extras["loadgen"]["scenario"] == "Offline"
    meas = [r for r in record.queries if not r.warmup]
    by_issue: dict[int, int] = {}
    for r in meas:  # LoadGen's one offline query is served in batches of batch_size prompts
        by_issue[r.issued_ns] = by_issue.get(r.issued_ns, 0) + 1
    assert max(by_issue.values()) == 2


def test_missing_extra_is_one_line(monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    monkeypatch.setitem(sys.modules, "mlperf_loadgen", None)  # import fails as if the wheel were absent
    record = run_profile(_profile("decoder-tiny", "single-stream"), cache_dir=cache)
    assert record.state == "failed" and "\n" not in record.error
    assert "pip install 'wattfleet[mlperf]'" in record.error and not record.queries
