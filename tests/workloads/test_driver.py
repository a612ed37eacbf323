"""run_profile through its observer, cancel, bad input, fallback and the quality comparison."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest
from traces import Track, constant, write_power_trace

from wattfleet.agent.figures.latency import summarize
from wattfleet.agent.workloads.config import LoadConfig, ModelConfig, Profile, QualityConfig, RuntimeConfig
from wattfleet.agent.workloads.driver import Query, run_profile

LOAD = LoadConfig(prompt_tokens=6, output_tokens=4, warmup_queries=2, min_duration_s=0.1, min_queries=5)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


class Watcher:
    def __init__(self, cancel_after: int = 0, cancel: threading.Event | None = None) -> None:
        self.lock = threading.Lock()
        self.phases: list[str] = []
        self.queries: list[Query] = []
        self.tokens: list[tuple[int, int, int]] = []
        self.progress: list[float] = []
        self.cancel_after, self.cancel = cancel_after, cancel

    def on_phase(self, state: str, detail: str = "") -> None:
        with self.lock:
            self.phases.append(state)

    def on_progress(self, fraction: float, queries_done: int, tokens_done: int, elapsed_s: float) -> None:
        with self.lock:
            self.progress.append(fraction)

    def on_token(self, query_id: int, token_index: int, t_ns: int) -> None:
        with self.lock:
            self.tokens.append((query_id, token_index, t_ns))

    def on_query(self, q: Query) -> None:
        with self.lock:
            self.queries.append(q)
            measured = sum(1 for x in self.queries if not x.warmup)
        if self.cancel is not None and measured >= self.cancel_after:
            self.cancel.set()


def _profile(**kw: object) -> Profile:
    runtime = kw.pop("runtime", RuntimeConfig(intra_op_threads=1))
    return Profile(name="drv", model=ModelConfig(builtin=str(kw.pop("model", "decoder-tiny"))),
                   runtime=runtime, load=dataclasses.replace(LOAD, **kw))  # type: ignore[arg-type]


def test_observer_sees_phases_queries_and_every_token(cache: Path) -> None:
    w = Watcher()
    record = run_profile(_profile(scenario="concurrency", concurrency=2), cache_dir=cache, observer=w, run_id="r1")
    assert record.state == "completed" and record.run_id == "r1"
    assert w.phases[0] == "preparing" and w.phases[-1] == "completed"
    assert w.phases.index("warmup") < w.phases.index("measuring")
    assert len(w.queries) == len(record.queries)
    by_id = {r.query_id: r for r in record.queries}
    for q in w.queries:
        r = by_id[q.query_id]
        assert (q.scheduled_ns, q.issued_ns, q.first_token_ns, q.done_ns, q.n_out, q.warmup) == (
            r.scheduled_ns, r.issued_ns, r.token_ns[0], r.done_ns, r.n_out, r.warmup)
    measured_tokens = {(r.query_id, i, t) for r in record.queries if not r.warmup for i, t in enumerate(r.token_ns)}
    assert set(w.tokens) == measured_tokens  # warm-up tokens are not streamed
    assert all(0.0 <= f <= 1.0 for f in w.progress)


def test_cancel_stops_the_run_and_keeps_what_was_measured(cache: Path) -> None:
    cancel = threading.Event()
    w = Watcher(cancel_after=3, cancel=cancel)
    record = run_profile(_profile(min_duration_s=30.0, min_queries=1000), cache_dir=cache, observer=w, cancel=cancel)
    assert record.state == "cancelled" and w.phases[-1] == "cancelled"
    meas = [r for r in record.queries if not r.warmup]
    assert 3 <= len(meas) < 1000
    assert not record.validity.valid and "run ended by cancelled" in record.validity.reasons
    # partial figures from any subset of requests
    part = summarize(meas[:2], record.window.t0_ns, record.window.t1_ns)
    assert next(f for f in part if f.name == "ttft_p50").value > 0


def test_max_queries_cap_ends_the_run(cache: Path) -> None:
    record = run_profile(_profile(min_duration_s=30.0, min_queries=10, max_queries=12), cache_dir=cache)
    assert record.state == "completed" and record.window.ended_by == "max_queries"
    assert sum(1 for r in record.queries if not r.warmup) == 12


def test_missing_model_file_fails_with_its_name(tmp_path: Path, cache: Path) -> None:
    profile = dataclasses.replace(_profile(), model=ModelConfig(path="nowhere/model.onnx"))
    w = Watcher()
    record = run_profile(profile, model_dirs=[tmp_path], cache_dir=cache, observer=w)
    assert record.state == "failed" and "model.onnx" in record.error and w.phases[-1] == "failed"
    assert record.to_dict()["error"] == record.error


def test_unavailable_provider_refuses_unless_fallback(cache: Path) -> None:
    refused = run_profile(_profile(runtime=RuntimeConfig(provider="cuda")), cache_dir=cache)
    assert refused.state == "failed" and "cuda" in refused.error.lower() and "fallback" in refused.error
    allowed = run_profile(_profile(runtime=RuntimeConfig(provider="cuda", fallback=True)), cache_dir=cache)
    assert allowed.state == "completed", allowed.error
    assert allowed.environment["provider_requested"] != allowed.environment["provider_used"]
    assert allowed.environment["provider_used"] == "CPUExecutionProvider" and allowed.environment["fell_back"]


def test_quality_against_a_reference_configuration(cache: Path) -> None:
    profile = dataclasses.replace(_profile(), quality=QualityConfig(reference_provider="cpu"))
    record = run_profile(profile, cache_dir=cache)
    assert record.state == "completed", record.error
    assert record.quality is not None and record.quality["token_agreement"] == 1.0
    assert record.quality["flagged"] is False


def test_energy_from_a_real_sampler_over_the_measured_window(tmp_path: Path, cache: Path) -> None:
    from wattfleet.agent.telemetry import ReplaySource, Sampler

    trace = tmp_path / "flat.csv"
    write_power_trace(trace, [Track("nvml", "gpu-board:0", constant(100.0))], rows=2000, step_ns=5_000_000)
    sampler = Sampler([ReplaySource(trace, loop=True)], rate_hz=200.0).start()
    try:
        record = run_profile(_profile(min_duration_s=0.2), cache_dir=cache, sampler=sampler)
    finally:
        sampler.stop()
    assert record.state == "completed", record.error
    energy = {f.name: f for f in record.figures if f.domain == "gpu-board:0"}
    assert set(energy) >= {"energy_j", "power_avg_w", "j_per_token", "tokens_per_j", "mj_per_query"}
    assert abs(energy["power_avg_w"].value - 100.0) < 5.0  # a flat 100 W trace
    t0, t1 = record.window.t0_ns, record.window.t1_ns
    tokens = sum(1 for r in record.queries if not r.warmup for t in r.token_ns if t0 <= t <= t1)
    assert abs(energy["j_per_token"].value - energy["energy_j"].value / tokens) < 1e-12
    assert record.energy[0].domain == "gpu-board:0" and record.energy[0].method in ("counter", "integral")
    assert all(not f.domain for f in record.figures if f.name.startswith(("ttft", "tpot", "tokens_per_s")))


class _CancelInWarmup(Watcher):
    def on_phase(self, state: str, detail: str = "") -> None:
        super().on_phase(state, detail)
        if state == "warmup" and self.cancel is not None:
            self.cancel.set()


def test_cancel_before_the_measured_window_with_a_sampler_is_cancelled_not_failed(cache: Path) -> None:
    from wattfleet.agent.telemetry import Sampler, build_sources

    sources, _ = build_sources(("estimated",))
    sampler = Sampler(sources, rate_hz=20.0).start()
    cancel = threading.Event()
    w = _CancelInWarmup(cancel=cancel)
    try:
        record = run_profile(_profile(min_duration_s=30.0, min_queries=1000), cache_dir=cache, observer=w,
                             cancel=cancel, sampler=sampler)
    finally:
        sampler.stop()
    assert record.state == "cancelled", record.error
    assert not any(f.domain for f in record.figures)  # no window, so no energy figures
