"""Power-limit sweeps through run_profile on the real tiny decoder: one limit per step, each step an
operating point carrying its setting, the original put back after success, failure and cancel, refusals
before anything changes. The CPU's RAPL limit lives in a fake powercap tree; the GPU's in the fake NVML
(those runs need a working CUDA provider: a GPU run never falls back to the CPU under a GPU's limit)."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import pytest
from telemetry.fake_nvml import FakeGpu, FakeNvml
from telemetry.fake_sysfs import rapl_tree

from wattfleet.agent.service.journal import Journal
from wattfleet.agent.telemetry import Reading, Sampler, Source
from wattfleet.agent.telemetry.limits import PowerLimits
from wattfleet.agent.telemetry.nvml import NvmlSource
from wattfleet.agent.telemetry.types import DeviceReading
from wattfleet.agent.workloads.config import LoadConfig, ModelConfig, Profile, RuntimeConfig, SweepConfig
from wattfleet.agent.workloads.driver import run_profile

LIMIT = "sys/class/powercap/intel-rapl:0/constraint_0_power_limit_uw"
LOAD = LoadConfig(scenario="sweep", prompt_tokens=6, output_tokens=4, warmup_queries=1, min_duration_s=0.2,
                  min_queries=4, concurrency=2, target_latency_percentile=0,
                  sweep=SweepConfig(over="power_limit", values=(60.0, 45.0), inner="concurrency"))


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def _profile(provider: str = "cpu", **load: object) -> Profile:
    return Profile(name="pl", model=ModelConfig(builtin="decoder-tiny"),
                   runtime=RuntimeConfig(provider=provider, intra_op_threads=1),
                   load=dataclasses.replace(LOAD, **load))  # type: ignore[arg-type]


class StepWatch:
    """Reads the limit in force when each step starts measuring; may fail or cancel the run at step 2."""

    def __init__(self, read: object, fail_at_step2: bool = False, cancel: threading.Event | None = None) -> None:
        self.read, self.fail, self.cancel = read, fail_at_step2, cancel
        self.steps: list[tuple[str, float]] = []
        self.phases: list[str] = []

    def on_phase(self, state: str, detail: str = "") -> None:
        self.phases.append(state)
        if state != "measuring":
            return
        self.steps.append((detail, self.read()))  # type: ignore[operator]
        if "(2/" in detail and self.fail:
            raise RuntimeError("the workload broke at step 2")
        if "(2/" in detail and self.cancel is not None:
            self.cancel.set()

    def on_progress(self, *args: object) -> None:
        return None

    def on_token(self, *args: object) -> None:
        return None

    def on_query(self, *args: object) -> None:
        return None


def _rapl(tmp_path: Path) -> tuple[Path, PowerLimits, Journal]:
    rapl_tree(tmp_path, limit_uw=95_000_000, max_power_uw=125_000_000)
    journal = Journal(tmp_path / "journal.sqlite3")
    return tmp_path / LIMIT, PowerLimits(journal, root=str(tmp_path)), journal


def _watts(path: Path) -> float:
    return int(path.read_text()) / 1e6


def test_cpu_sweep_sets_each_limit_and_puts_the_original_back(tmp_path: Path, cache: Path) -> None:
    limit, consent, journal = _rapl(tmp_path)
    watch = StepWatch(lambda: _watts(limit))
    record = run_profile(_profile(), cache_dir=cache, observer=watch, run_id="r", host_id="h1", power_limits=consent)
    assert record.state == "completed", record.error
    assert watch.steps == [("sweep pl=60W (1/2)", 60.0), ("sweep pl=45W (2/2)", 45.0)]
    assert _watts(limit) == 95.0 and journal.pending_limits() == []
    assert [s.run_id for s in record.sweep] == ["r/pl=60W", "r/pl=45W"]
    for sub, value in zip(record.sweep, (60.0, 45.0), strict=True):
        assert sub.scenario == "concurrency" and sub.profile["load"]["concurrency"] == 2
        assert sub.environment["device"]["power_limit_w"] == value  # where the audit reads the setting
        assert sub.environment["power_limit"]["set_w"] == value
        assert sub.environment["power_limit"]["read_back_w"] == {"cpu package-0 (intel-rapl:0)": value}
        assert "no telemetry sampler" in sub.environment["device_state"]["note"]
        assert sub.figure("tokens_per_s") is not None and sub.validity.queries >= 4
    assert [p["setting"] for p in record.sweep_summary] == ["pl=60W", "pl=45W"]
    assert not any(p["saturated"] for p in record.sweep_summary)  # every limit is a step
    info = record.extras["power_limit"]
    assert (info["via"], info["original_w"], info["range_w"], info["restored"]) == ("rapl", 95.0, [1.0, 125.0], True)
    assert [s["set_w"] for s in info["steps"]] == [60.0, 45.0]


def test_cpu_sweep_puts_the_limit_back_after_a_failure(tmp_path: Path, cache: Path) -> None:
    limit, consent, journal = _rapl(tmp_path)
    watch = StepWatch(lambda: _watts(limit), fail_at_step2=True)
    record = run_profile(_profile(), cache_dir=cache, observer=watch, power_limits=consent)
    assert record.state == "failed" and "the workload broke at step 2" in record.error
    assert [w for _, w in watch.steps] == [60.0, 45.0]
    assert _watts(limit) == 95.0 and journal.pending_limits() == [] and record.extras["power_limit"]["restored"]


def test_cpu_sweep_puts_the_limit_back_after_a_cancel(tmp_path: Path, cache: Path) -> None:
    limit, consent, journal = _rapl(tmp_path)
    cancel = threading.Event()
    watch = StepWatch(lambda: _watts(limit), cancel=cancel)
    record = run_profile(_profile(sweep=SweepConfig(over="power_limit", values=(60.0, 45.0, 30.0))), cache_dir=cache,
                         observer=watch, cancel=cancel, power_limits=consent)
    assert record.state == "cancelled" and watch.phases[-1] == "cancelled"
    assert [w for _, w in watch.steps] == [60.0, 45.0]  # the third limit was never set
    assert _watts(limit) == 95.0 and journal.pending_limits() == []


@pytest.mark.parametrize(("values", "consent", "why"), [
    ((60.0, 130.0), True, r"refused on h1: cpu package-0 \(intel-rapl:0\): 130 W outside the power limits it "
                          r"accepts \(1 to 125 W\); choose load.sweep.values in that range; nothing was changed"),
    ((60.0,), False, r"refused on h1: .* which was not allowed; start the agent \(or wattfleet bench\) with "
                     "--allow-power-limits"),
])
def test_refused_before_anything_opens_or_changes(tmp_path: Path, cache: Path, values: tuple[float, ...],
                                                  consent: bool, why: str) -> None:
    limit, limits, journal = _rapl(tmp_path)
    before = limit.stat().st_mtime_ns
    watch = StepWatch(lambda: _watts(limit))
    record = run_profile(_profile(sweep=SweepConfig(over="power_limit", values=values)), cache_dir=cache,
                         observer=watch, host_id="h1", power_limits=limits if consent else None)
    assert record.state == "failed"
    assert __import__("re").search(why, record.error) and "\n" not in record.error
    assert watch.steps == [] and not record.environment  # the runner never opened
    assert limit.stat().st_mtime_ns == before and journal.pending_limits() == []


class DeviceStats(Source):
    """A device source with known values: the power limit rises by 10 W and the SM clock falls by 10 MHz
    each read; from the third read on, the SW power cap reason is set."""

    def __init__(self, device: str) -> None:
        self.name, self.domains, self.device, self.n = "devstats", (), device, 0

    def read(self, t_ns: int) -> list[Reading]:
        return []

    def read_devices(self, t_ns: int) -> list[DeviceReading]:
        self.n += 1
        return [DeviceReading(self.device, t_ns, temperature_c=40.0 + self.n, sm_clock_mhz=2000.0 - 10 * self.n,
                             mem_clock_mhz=2619.0, power_limit_w=100.0 + 10 * self.n,
                             throttle_reasons=("sw_power_cap",) if self.n >= 3 else ())]


def test_a_record_states_the_device_at_start_and_end_of_its_window(cache: Path) -> None:
    src = DeviceStats("cpu")
    with Sampler([src], rate_hz=50.0, device_every=1) as sampler:
        record = run_profile(_profile(scenario="concurrency", min_duration_s=0.5), cache_dir=cache, sampler=sampler)
    assert record.state == "completed", record.error
    anchor = record.window.anchor_mono_ns
    times = [s.t_ns - anchor for s in sampler.device_samples_after(0)]
    t0, t1 = record.window.t0_ns - anchor, record.window.t1_ns - anchor
    st = record.environment["device_state"]
    start, end = st["start"], st["end"]
    assert st["device"] == "cpu" and st["n_samples"] == sum(1 for t in times if start["t_ns"] <= t <= t1)
    assert start["t_ns"] == max(t for t in times if t <= t0)  # the last reading at or before the window's start
    assert end["t_ns"] == max(t for t in times if t <= t1)
    assert end["power_limit_w"] - start["power_limit_w"] == 10 * (st["n_samples"] - 1)  # one read apart each
    assert st["throttle_reasons_seen"] == ["sw_power_cap"]
    assert record.environment["device"]["power_limit_w"] == start["power_limit_w"]
    assert record.environment["device"]["clocks_mhz"] == {"sm": end["sm_clock_mhz"], "mem": 2619.0}


def _cuda_works() -> bool:
    from wattfleet.agent.workloads.providers import probe_provider

    return probe_provider("CUDAExecutionProvider").works


@pytest.fixture(scope="module")
def cuda() -> None:
    if not _cuda_works():
        pytest.skip("needs a working CUDA provider: a GPU power-limit sweep must run on that GPU (on a CPU-only "
                    "host the RAPL sweeps above take the same driver path)")


def test_gpu_sweep_against_the_fake_nvml(tmp_path: Path, cache: Path, cuda: None) -> None:
    nv = FakeNvml([FakeGpu(limit_mw=300_000, power_mw=lambda t: 280_000)], tick_s=0.01, clock=time.monotonic)
    journal = Journal(tmp_path / "journal.sqlite3")
    watch = StepWatch(lambda: nv.gpus[0].limit_mw / 1e3)
    with Sampler([NvmlSource(nv)], rate_hz=20.0, device_every=1) as sampler:
        record = run_profile(_profile("cuda", min_duration_s=1.0, sweep=SweepConfig(over="power_limit",
                             values=(250.0, 200.0))), cache_dir=cache, observer=watch, sampler=sampler,
                             power_limits=PowerLimits(journal, nvml=nv))
    assert record.state == "completed", record.error
    assert nv.gpus[0].limits_set == [300_000, 250_000, 200_000, 300_000]  # probe, each step, put back
    assert [w for _, w in watch.steps] == [250.0, 200.0] and journal.pending_limits() == []
    for sub, value in zip(record.sweep, (250.0, 200.0), strict=True):
        power = sub.headline("power_avg_w")
        assert sub.headline_domain == "gpu-board:0" and power is not None and power.value is not None
        assert power.value == pytest.approx(min(280.0, value), rel=0.1)  # the board draws what the limit allows
        assert sub.environment["device_state"]["end"]["power_limit_w"] == value  # read by NVML in the window


def test_a_gpu_run_that_falls_back_to_the_cpu_changes_no_gpu_limit(tmp_path: Path, cache: Path) -> None:
    if _cuda_works():
        pytest.skip("CUDA works here: nothing falls back")
    nv = FakeNvml([FakeGpu(limit_mw=300_000)])
    profile = dataclasses.replace(_profile("cuda", sweep=SweepConfig(over="power_limit", values=(250.0,))),
                                  runtime=RuntimeConfig(provider="cuda", fallback=True))
    record = run_profile(profile, cache_dir=cache, host_id="h1", power_limits=PowerLimits(nvml=nv))
    assert record.state == "failed" and "sets the limit of gpu:0, but the run fell back to cpu" in record.error
    assert nv.gpus[0].limit_mw == 300_000 and nv.gpus[0].limits_set == [300_000]  # only the probe's no-op


# --- the profile keys and `wattfleet bench` ----------------------------------------------------------

SWEEP_TOML = ('name = "p"\n[model]\nbuiltin = "decoder-tiny"\n[load]\nscenario = "sweep"\n'
              "target_latency_percentile = 0\n[load.sweep]\n")


@pytest.mark.parametrize(("sweep", "inner", "why"), [
    ('over = "power_limit"\nvalues = [250, 200]\n', "concurrency", ""),
    ('over = "power_limit"\nvalues = [250]\ninner = "server"\n', "server", ""),
    ('over = "rate"\nvalues = [2]\ninner = "offline"\n', "",
     r"p.toml: load.sweep.inner: only a power_limit sweep has an inner scenario; a rate sweep runs server levels"),
    ('over = "power_limit"\nvalues = [250, 250]\n', "", "p.toml: load.sweep.values: a power limit is listed twice"),
    ('over = "power_limit"\nvalues = [250]\ninner = "sweep"\n', "", "p.toml: load.sweep.inner: expected one of"),
    ('over = "watts"\nvalues = [250]\n', "", "'rate', 'concurrency', 'power_limit'"),
])
def test_power_limit_sweep_keys(sweep: str, inner: str, why: str) -> None:
    from wattfleet.agent.figures.validity import inner_scenario
    from wattfleet.agent.workloads.profile import load_profile_text
    from wattfleet.core.errors import ConfigError

    if why:
        with pytest.raises(ConfigError, match=why):
            load_profile_text(SWEEP_TOML + sweep, "p.toml")
        return
    assert inner_scenario(load_profile_text(SWEEP_TOML + sweep, "p.toml").load) == inner


def test_bench_sweeps_power_limits_only_with_the_flag(tmp_path: Path, cache: Path) -> None:
    import json
    import subprocess
    import sys

    rapl_tree(tmp_path, limit_uw=95_000_000, max_power_uw=125_000_000)
    (tmp_path / "pl.toml").write_text(SWEEP_TOML.replace("scenario", "concurrency = 2\nmin_duration_s = 0.2\n"
                                                         "min_queries = 4\nwarmup_queries = 1\nscenario", 1)
                                      + 'over = "power_limit"\nvalues = [60, 45]\n')
    bench = [str(Path(sys.executable).parent / "wattfleet"), "bench", str(tmp_path / "pl.toml"), "--cache-dir",
             str(cache), "--power-source", f"rapl:{tmp_path}", "--out", str(tmp_path / "r.json")]
    refused = subprocess.run(bench, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "add --allow-power-limits" in refused.stderr
    assert not (tmp_path / "r.json").exists()
    done = subprocess.run([*bench, "--allow-power-limits"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "r.json").read_text())
    assert [s["environment"]["device"]["power_limit_w"] for s in record["sweep"]] == [60.0, 45.0]
    assert record["extras"]["power_limit"]["restored"] is True and _watts(tmp_path / LIMIT) == 95.0
