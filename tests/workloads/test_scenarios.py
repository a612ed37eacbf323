"""Every scenario on the built-in tiny decoder and on SqueezeNet from the onnx wheel, each record checked
against itself: figures recomputed from the raw timestamps with brute-force references."""

from __future__ import annotations

import dataclasses
import itertools
import math
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from wattfleet.agent.workloads.config import LoadConfig, ModelConfig, Profile, RuntimeConfig, SloConfig, SweepConfig
from wattfleet.agent.workloads.driver import run_profile
from wattfleet.agent.workloads.scenarios import Recorder, arrival_offsets_ns, server_schedule
from wattfleet.core.model import Query, RunRecord

SHORT = LoadConfig(prompt_tokens=6, output_tokens=5, warmup_queries=1, min_duration_s=0.12, min_queries=6,
                   max_duration_s=10.0, seed=5)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def _profile(model: str, **load: object) -> Profile:
    return Profile(name=f"t-{model}", model=ModelConfig(builtin=model), runtime=RuntimeConfig(intra_op_threads=1),
                   load=dataclasses.replace(SHORT, **load), slo=SloConfig(ttft_ms=50.0, tpot_ms=20.0))


def _rank(values: list[float], p: float) -> float:
    """Brute force of LoadGen's sorted[floor(p/100*n)]: the smallest value with more than p% of the
    values at or below it."""
    share = Fraction(str(p)) / 100
    for v in sorted(values):
        if sum(1 for x in values if x <= v) > share * len(values):
            return v
    raise AssertionError


def _fig(record: RunRecord, name: str) -> float:
    f = record.figure(name)
    assert f is not None and f.value is not None, f"{name} missing from {[g.name for g in record.figures]}"
    return f.value


def check_record(record: RunRecord, profile: Profile) -> None:
    """The record against itself, from the raw per-request timestamps it keeps."""
    assert record.state == "completed", record.error
    assert RunRecord.from_json(record.to_json()).to_dict() == record.to_dict()
    ld = profile.load
    t0, t1 = record.window.t0_ns, record.window.t1_ns
    assert t1 > t0 and math.isclose(record.window.duration_s, (t1 - t0) / 1e9)
    warm = [r for r in record.queries if r.warmup]
    meas = [r for r in record.queries if not r.warmup]
    assert len(warm) == ld.warmup_queries * (ld.batch_size if record.environment["kind"] == "generative" else 1)
    assert len({r.query_id for r in record.queries}) == len(record.queries)
    assert record.validity.queries == len(meas) >= (ld.min_queries or 0)
    if record.window.ended_by == "limits met":  # judged on the window the scenario reports, never less
        assert record.window.duration_s >= ld.min_duration_s, record.window
    assert all(r.scheduled_ns <= r.issued_ns <= r.done_ns for r in meas)
    assert record.environment["provider_used"] == "CPUExecutionProvider"
    assert set(record.cold_start) in ({"model_load_s", "session_build_s", "first_inference_s"}, set())
    if record.environment["kind"] == "generative":
        for r in meas:
            assert r.n_out == ld.output_tokens
            assert list(r.token_ns) == sorted(r.token_ns) and r.done_ns == r.token_ns[-1]
        tpot = [(r.token_ns[-1] - r.token_ns[0]) / 1e6 / (r.n_out - 1) for r in meas]
        ttft = [(r.token_ns[0] - r.scheduled_ns) / 1e6 for r in meas]
        itl = [(b - a) / 1e6 for r in meas for a, b in itertools.pairwise(r.token_ns)]
        for p in (50, 90, 99, 99.9):
            assert math.isclose(_fig(record, f"tpot_p{p:g}"), _rank(tpot, p), rel_tol=1e-9)
            assert math.isclose(_fig(record, f"ttft_p{p:g}"), _rank(ttft, p), rel_tol=1e-9)
            assert math.isclose(_fig(record, f"itl_p{p:g}"), _rank(itl, p), rel_tol=1e-9)
        tokens = sum(1 for r in meas for t in r.token_ns if t0 <= t <= t1)
        assert math.isclose(_fig(record, "tokens_per_s"), tokens / ((t1 - t0) / 1e9), rel_tol=1e-9)
        good = sum(1 for r in meas if t0 <= r.done_ns <= t1 and (r.token_ns[0] - r.scheduled_ns) / 1e6 <= 50
                   and (r.token_ns[-1] - r.token_ns[0]) / 1e6 / (r.n_out - 1) <= 20)
        assert math.isclose(_fig(record, "goodput"), good / ((t1 - t0) / 1e9), rel_tol=1e-9)
        assert record.figure("samples_per_s") is None
    else:
        lat = [(r.done_ns - r.scheduled_ns) / 1e6 for r in meas]
        assert math.isclose(_fig(record, "latency_p90"), _rank(lat, 90), rel_tol=1e-9)
        samples = sum(r.samples for r in meas if t0 <= r.done_ns <= t1)
        assert math.isclose(_fig(record, "samples_per_s"), samples / ((t1 - t0) / 1e9), rel_tol=1e-9)
        assert record.figure("tokens_per_s") is None and record.figure("ttft_p50") is None
        assert all(r.n_out == 0 and r.samples == ld.batch_size for r in meas)


@pytest.mark.parametrize("model", ["decoder-tiny", "cnn-squeezenet"])
def test_single_stream(cache: Path, model: str) -> None:
    profile = _profile(model)
    record = run_profile(profile, cache_dir=cache)
    check_record(record, profile)
    meas = sorted((r for r in record.queries if not r.warmup), key=lambda r: r.issued_ns)
    for a, b in itertools.pairwise(meas):  # one at a time
        assert b.issued_ns >= a.done_ns
    assert record.window.t0_ns == meas[0].issued_ns and record.window.t1_ns == meas[-1].done_ns
    assert record.validity.min_duration_met and record.validity.min_queries_met


@pytest.mark.parametrize("model", ["decoder-tiny", "cnn-squeezenet"])
def test_server_follows_the_seeded_schedule(cache: Path, model: str) -> None:
    profile = _profile(model, scenario="server", rate_qps=60.0, server_workers=2)
    record = run_profile(profile, cache_dir=cache)
    check_record(record, profile)
    t0 = record.window.t0_ns
    meas = sorted((r for r in record.queries if not r.warmup), key=lambda r: r.scheduled_ns)
    assert [r.scheduled_ns - t0 for r in meas] == record.schedule_offsets_ns == server_schedule(profile.load)
    assert record.schedule_offsets_ns == arrival_offsets_ns(len(meas), 60.0, "poisson", 1.0, SHORT.seed)
    assert record.schedule_offsets_ns[-1] >= SHORT.min_duration_s * 1e9
    # the window ends at the first completion after the last arrival
    last = max(r.scheduled_ns for r in meas)
    assert record.window.t1_ns == min(r.done_ns for r in meas if r.done_ns >= last)
    if model == "decoder-tiny":  # ttft counts queueing from the scheduled time, ttft_send does not
        assert _fig(record, "ttft_mean") >= _fig(record, "ttft_send_mean")
    assert record.validity.early_stopping.percentile == 99.0


@pytest.mark.parametrize("model", ["decoder-tiny", "cnn-squeezenet"])
def test_offline_batches_everything_from_t0(cache: Path, model: str) -> None:
    batch = 3 if model == "decoder-tiny" else 1  # the onnx wheel's CNNs have a fixed batch of 1
    profile = _profile(model, scenario="offline", batch_size=batch)
    record = run_profile(profile, cache_dir=cache)
    check_record(record, profile)
    meas = [r for r in record.queries if not r.warmup]
    assert {r.scheduled_ns for r in meas} == {record.window.t0_ns}
    if model == "decoder-tiny":  # the prompts of one batch share an issue time
        by_issue: dict[int, int] = {}
        for r in meas:
            by_issue[r.issued_ns] = by_issue.get(r.issued_ns, 0) + 1
        assert set(by_issue.values()) == {3}
    assert record.validity.early_stopping is None
    # every query waits from t0 (queueing); the CoV trtexec flags is over the service time alone
    service = [(r.done_ns - r.issued_ns) / 1e6 for r in meas]
    assert math.isclose(record.validity.service_time_cov, float(np.std(service) / np.mean(service)), rel_tol=1e-9)


@pytest.mark.parametrize("model", ["decoder-tiny", "cnn-squeezenet"])
def test_concurrency_window_is_the_steady_state(cache: Path, model: str) -> None:
    profile = _profile(model, scenario="concurrency", concurrency=3)
    record = run_profile(profile, cache_dir=cache)
    check_record(record, profile)
    meas = [r for r in record.queries if not r.warmup]
    t0, t1 = record.window.t0_ns, record.window.t1_ns
    events = sorted([(r.issued_ns, 1) for r in meas] + [(r.done_ns, -1) for r in meas])
    level, peak = 0, 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    assert peak <= 3
    assert sum(1 for r in meas if r.issued_ns <= t0 < r.done_ns) == 3  # N in flight at t0
    assert t1 in {r.done_ns for r in meas}  # ends at a completion (the drain's first)


@pytest.mark.parametrize("model", ["decoder-tiny", "cnn-squeezenet"])
def test_sweep_runs_each_level_until_saturation(cache: Path, model: str) -> None:
    profile = _profile(model, scenario="sweep", sweep=SweepConfig(over="concurrency", values=(1.0, 2.0, 4.0)),
                       min_duration_s=0.08)
    record = run_profile(profile, cache_dir=cache)
    assert record.state == "completed", record.error
    assert 1 <= len(record.sweep) <= 3 and len(record.sweep_summary) == len(record.sweep)
    for sub, value in zip(record.sweep, (1, 2, 4), strict=False):
        assert sub.profile["load"]["concurrency"] == value
        level = dataclasses.replace(profile.load, scenario="concurrency", concurrency=value,
                                    warmup_queries=sub.profile["load"]["warmup_queries"])
        check_record(sub, dataclasses.replace(profile, load=level))
    summary = record.sweep_summary
    assert all(not s["saturated"] for s in summary[:-1])
    if len(summary) < 3:
        assert summary[-1]["saturated"]
    assert record.figures and "saturation_rule" in record.validity.details
    assert RunRecord.from_json(record.to_json()).to_dict() == record.to_dict()


def test_concurrency_with_batches_counts_queries_in_flight(cache: Path) -> None:
    profile = _profile("decoder-tiny", scenario="concurrency", concurrency=2, batch_size=2)
    record = run_profile(profile, cache_dir=cache)
    check_record(record, profile)
    meas = [r for r in record.queries if not r.warmup]
    t0 = record.window.t0_ns
    assert sum(1 for r in meas if r.issued_ns <= t0 < r.done_ns) == 4  # 2 queries of 2 prompts each


def test_rate_sweep_uses_the_server_scenario(cache: Path) -> None:
    profile = _profile("decoder-tiny", scenario="sweep", sweep=SweepConfig(over="rate", values=(40.0, 80.0)),
                       min_duration_s=0.05, min_queries=4)
    record = run_profile(profile, cache_dir=cache)
    assert record.state == "completed", record.error
    assert [s.profile["load"]["rate_qps"] for s in record.sweep] == [40.0, 80.0][: len(record.sweep)]
    assert all(s.schedule_offsets_ns for s in record.sweep)


@pytest.mark.parametrize(("arrival", "shape"), [("poisson", 1.0), ("gamma", 0.5), ("gamma", 4.0)])
def test_arrival_schedule_rate_and_burstiness(arrival: str, shape: float) -> None:
    offsets = arrival_offsets_ns(4001, 25.0, arrival, shape, seed=11)
    assert offsets == arrival_offsets_ns(4001, 25.0, arrival, shape, seed=11)  # seeded
    assert offsets != arrival_offsets_ns(4001, 25.0, arrival, shape, seed=12)
    gaps = np.diff(offsets) / 1e9
    assert abs(len(gaps) / (offsets[-1] / 1e9) / 25.0 - 1) < 0.05  # achieved rate within 5%
    cov = float(np.std(gaps) / np.mean(gaps))
    assert abs(cov - 1 / math.sqrt(shape)) < 0.1 / math.sqrt(shape)


class _SlowRunner:
    """The real tiny decoder with an artificial delay before each query: a slow model, quickly."""

    def __init__(self, runner: Any, delay_s: float) -> None:
        self.runner, self.delay_s, self.kind = runner, delay_s, runner.kind

    def __getattr__(self, name: str) -> Any:
        return getattr(self.runner, name)

    def generate(self, prompts: Any, max_new_tokens: Any, on_token: Any = None, **kwargs: Any) -> Any:
        time.sleep(self.delay_s)
        return self.runner.generate(prompts, max_new_tokens, on_token, **kwargs)


@pytest.fixture
def slow(monkeypatch: pytest.MonkeyPatch) -> None:
    """run_profile opens the real runner, wrapped so each query takes 0.4 s more."""
    from wattfleet.agent.workloads.runners import for_profile

    real = for_profile.open_runner
    monkeypatch.setattr(for_profile, "open_runner", lambda *a, **kw: _SlowRunner(real(*a, **kw), 0.4))


def _in_flight_peak(meas: list[Any]) -> int:
    level = peak = 0
    for _, step in sorted([(r.issued_ns, 1) for r in meas] + [(r.done_ns, -1) for r in meas]):
        level += step
        peak = max(peak, level)
    return peak


def test_concurrency_honours_max_queries_before_steady_state(cache: Path, slow: None) -> None:
    # 8 clients but a cap of 4 queries: 8 are never in flight, and the cap still holds
    profile = _profile("decoder-tiny", scenario="concurrency", concurrency=8, max_queries=4, min_queries=4,
                       min_duration_s=5.0, warmup_queries=0, output_tokens=2)
    record = run_profile(profile, cache_dir=cache)
    assert record.state == "completed", record.error
    meas = [r for r in record.queries if not r.warmup]
    assert len(meas) == 4 and _in_flight_peak(meas) == 4
    assert record.window.ended_by == "max_queries"
    assert list(record.window.notes) == ["steady state not reached: 8 queries were never in flight at once"]
    assert not record.validity.valid and any("steady state not reached" in r for r in record.validity.reasons)


def test_concurrency_honours_max_duration_while_every_client_waits(cache: Path, slow: None) -> None:
    # each query takes longer than the cap: the window ends at the cap, and no client issues again
    profile = _profile("decoder-tiny", scenario="concurrency", concurrency=3, min_queries=3, min_duration_s=5.0,
                       max_duration_s=0.3, warmup_queries=0, output_tokens=2)
    record = run_profile(profile, cache_dir=cache)
    assert record.state == "completed", record.error
    meas = [r for r in record.queries if not r.warmup]
    assert record.window.ended_by == "max_duration_s"
    assert len(meas) == 3 and _in_flight_peak(meas) == 3  # the steady state was reached, then capped
    assert record.window.duration_s <= 0.3
    assert all(r.issued_ns <= record.window.t1_ns for r in meas)
    assert not record.validity.valid and not record.window.notes


def test_limits_met_is_judged_on_the_window_not_the_clock() -> None:
    load = LoadConfig(min_duration_s=1.0, min_queries=2, max_duration_s=100.0)
    rec = Recorder(load, None, threading.Event())
    now = time.monotonic_ns()
    rec.begin(now - 3_000_000_000)
    rec.start_ns = now - 2_000_000_000  # the window started 2 s ago ...
    rec.add([Query(i, rec.start_ns, rec.start_ns, rec.start_ns + 500_000_000) for i in range(3)])
    assert rec.stop_reason() == ""  # ... but its last completion is 0.5 s in: not yet 1 s of window
    rec.add([Query(3, rec.start_ns, rec.start_ns, rec.start_ns + 1_000_000_000)])
    assert rec.stop_reason() == "limits met"
