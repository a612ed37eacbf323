"""Power limits against the fake NVML (real pynvml names, mW, error codes) and a fake powercap tree: read,
checked, set per step, always put back, journaled before the first change, restored after a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from wattfleet.agent.service.journal import Journal
from wattfleet.agent.telemetry.device_state import device_state, device_summary
from wattfleet.agent.telemetry.limits import (
    LimitError,
    LimitSession,
    NvmlLimit,
    PowerLimits,
    RaplLimit,
    rapl_root,
    restore_journaled,
)
from wattfleet.agent.telemetry.types import DeviceReading

from .fake_nvml import FakeGpu, FakeNvml
from .fake_sysfs import ReadOnlyReader, rapl_tree

LIMIT = "sys/class/powercap/intel-rapl:0/constraint_0_power_limit_uw"


def _gpu(**kw: object) -> FakeNvml:
    return FakeNvml([FakeGpu(limit_mw=300_000, **kw)])  # type: ignore[arg-type]


def _sweep(session: LimitSession, values: list[float], fail_after: int | None = None) -> None:
    """What the driver does: check, then one limit per step, always put back."""
    session.check(values)
    try:
        for i, v in enumerate(values):
            session.set_w(v)
            if fail_after is not None and i == fail_after:
                raise RuntimeError("the workload failed")
    finally:
        assert session.restore() == []


def test_nvml_limit_is_set_per_step_and_put_back(tmp_path: Path) -> None:
    nv = _gpu()
    journal = Journal(tmp_path / "j.sqlite3")
    session = PowerLimits(journal, nvml=nv).session("gpu:0", owner="run-1")
    assert session.original_w == 300.0 and session.held[0].range.min_w == 200.0
    assert session.held[0].range.default_w == 700.0
    seen: list[tuple[int, list[tuple[str, float, str]]]] = []
    session.check([250.0, 200.0])
    for v in (250.0, 200.0):
        info = session.set_w(v)
        assert info["read_back_w"] == {"gpu:0 (NVIDIA H100 80GB HBM3)": v} and "note" not in info
        seen.append((nv.gpus[0].limit_mw, journal.pending_limits()))
    # the original was journaled before the first change, once, and stays until put back
    row = ("nvml:" + nv.gpus[0].uuid, 300.0, "run-1")
    assert seen == [(250_000, [row]), (200_000, [row])]
    assert session.restore() == []
    assert nv.gpus[0].limits_set == [250_000, 200_000, 300_000] and nv.gpus[0].limit_mw == 300_000
    assert journal.pending_limits() == [] and nv.init_count == 0


def test_nvml_limit_is_put_back_after_a_failure_and_after_a_failed_set(tmp_path: Path) -> None:
    nv = _gpu()
    with pytest.raises(RuntimeError):
        _sweep(PowerLimits(Journal(tmp_path / "j.sqlite3"), nvml=nv).session("gpu:0"), [250.0, 200.0], fail_after=0)
    assert nv.gpus[0].limits_set == [250_000, 300_000]

    nv = _gpu(fail_set_at=1)  # NVML_ERROR_UNKNOWN on the second step's set
    journal = Journal(tmp_path / "k.sqlite3")
    with pytest.raises(LimitError, match="NVML nvmlDeviceSetPowerManagementLimit failed"):
        _sweep(PowerLimits(journal, nvml=nv).session("gpu:0"), [250.0, 200.0])
    assert nv.gpus[0].limits_set == [250_000, 300_000] and journal.pending_limits() == []


@pytest.mark.parametrize(("gpu", "values", "why"), [
    ({"limit_supported": False}, [250.0], "does not support changing its power limit"),
    ({"limit_settable": False}, [250.0], r"No Permission\): run the agent as root"),
    ({}, [250.0, 150.0, 800.0], r"150, 800 W outside the power limits it accepts \(200 to 700 W\)"),
])
def test_refusals_change_nothing(tmp_path: Path, gpu: dict[str, object], values: list[float], why: str) -> None:
    nv = _gpu(**gpu)
    journal = Journal(tmp_path / "j.sqlite3")
    with pytest.raises(LimitError, match=why):
        session = PowerLimits(journal, nvml=nv).session("gpu:0")
        try:
            session.check(values)
            session.probe()  # sets the limit it already has: shows whether setting is allowed at all
        finally:
            session.close()
    g = nv.gpus[0]
    assert g.limit_mw == 300_000 and g.limits_set == [] and journal.pending_limits() == []
    assert nv.init_count == 0


def test_unknown_gpu_and_device_are_refused() -> None:
    with pytest.raises(LimitError, match="gpu:3: NVML sees 1 GPU"):
        PowerLimits(nvml=_gpu()).session("gpu:3")
    with pytest.raises(LimitError, match="gpu:N \\(NVML\\) or cpu \\(RAPL\\) only"):
        PowerLimits(nvml=_gpu()).session("soc")


def test_rapl_package_limits_set_per_step_and_put_back(tmp_path: Path) -> None:
    rapl_tree(tmp_path, packages=2, limit_uw=95_000_000, max_power_uw=125_000_000)
    journal = Journal(tmp_path / "j.sqlite3")
    session = PowerLimits(journal, root=str(tmp_path)).session("cpu", owner="r")
    assert [k.key for k in session.knobs] == ["rapl:intel-rapl:0", "rapl:intel-rapl:1"]
    assert session.held[0].range.max_w == 125.0
    with pytest.raises(LimitError, match="130 W outside"):
        session.check([130.0])
    session.set_w(65.0)
    assert {(tmp_path / LIMIT.replace(":0/", f":{n}/")).read_text() for n in (0, 1)} == {"65000000"}
    assert [k for k, _, _ in journal.pending_limits()] == ["rapl:intel-rapl:0", "rapl:intel-rapl:1"]
    assert session.restore() == []
    assert (tmp_path / LIMIT).read_text() == "95000000" and journal.pending_limits() == []


def test_rapl_without_max_never_goes_above_the_limit_found(tmp_path: Path) -> None:
    rapl_tree(tmp_path, limit_uw=95_000_000)
    session = PowerLimits(root=str(tmp_path)).session("cpu")
    with pytest.raises(LimitError, match=r"\(1 to 95 W\)"):
        session.check([100.0])


def test_rapl_refusals(tmp_path: Path) -> None:
    rapl_tree(tmp_path)  # energy counters, but no constraint files
    with pytest.raises(LimitError, match="no RAPL power limit to set"):
        PowerLimits(root=str(tmp_path)).session("cpu")
    with pytest.raises(LimitError, match="no RAPL package zones"):
        PowerLimits(root=str(tmp_path / "nothing")).session("cpu")
    rapl_tree(tmp_path, limit_uw=95_000_000)
    knob = RaplLimit(ReadOnlyReader(tmp_path, "constraint_0_power_limit_uw"), "intel-rapl:0")
    with pytest.raises(LimitError, match="writable only by root: run the agent as root"):
        LimitSession("cpu", [knob]).probe()
    assert (tmp_path / LIMIT).read_text().strip() == "95000000"


def test_restore_journaled_puts_back_what_a_crash_left(tmp_path: Path) -> None:
    nv = _gpu()
    rapl_tree(tmp_path, limit_uw=95_000_000)
    journal = Journal(tmp_path / "j.sqlite3")
    gpu = PowerLimits(journal, nvml=nv).session("gpu:0", owner="crashed")
    gpu.set_w(220.0)
    cpu = PowerLimits(journal, root=str(tmp_path)).session("cpu", owner="crashed")
    cpu.set_w(50.0)  # ... and the process dies here: nobody calls restore()
    assert nv.gpus[0].limit_mw == 220_000 and (tmp_path / LIMIT).read_text() == "50000000"
    lines = restore_journaled(journal, nvml=nv, root=str(tmp_path))
    assert nv.gpus[0].limit_mw == 300_000 and (tmp_path / LIMIT).read_text() == "95000000"
    assert journal.pending_limits() == [] and len(lines) == 2
    assert "restored to 300 W (left changed by run crashed" in lines[0]


def test_restore_that_fails_keeps_the_row_for_next_time(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    journal.remember_limit("nvml:GPU-gone", 300.0, "old-run")
    assert journal.remember_limit("nvml:GPU-gone", 123.0, "later") == 300.0  # the first original wins
    (line,) = restore_journaled(journal, nvml=_gpu())
    assert "NOT restored to 300 W" in line and "NVML cannot find it" in line
    assert journal.pending_limits() == [("nvml:GPU-gone", 300.0, "old-run")]


def test_an_nvml_knob_reopens_by_uuid() -> None:
    nv = FakeNvml([FakeGpu(uuid="GPU-a"), FakeGpu(uuid="GPU-b", limit_mw=250_000)])
    knob = NvmlLimit(nv, uuid="GPU-b")
    assert knob.key == "nvml:GPU-b" and knob.get_w() == 250.0
    knob.close()


def test_rapl_root_follows_the_rapl_power_source() -> None:
    assert rapl_root(["nvml", "rapl:/tmp/tree"]) == "/tmp/tree"
    assert rapl_root(["estimated:tdp_w=65"]) == "/" and rapl_root(["rapl"]) == "/"


def _dev(t_s: float, limit: float, sm: float, reasons: tuple[str, ...] = (), device: str = "gpu:0") -> DeviceReading:
    return DeviceReading(device, int(t_s * 1e9), temperature_c=50 + t_s, sm_clock_mhz=sm, mem_clock_mhz=2619.0,
                        power_limit_w=limit, throttle_reasons=reasons)


def test_device_state_at_start_and_end_and_throttle_reasons_seen() -> None:
    samples = [_dev(0.5, 300, 1400), _dev(1.0, 250, 1980), _dev(1.5, 250, 1900, ("sw_power_cap",)),
               _dev(2.0, 250, 1700, ("hw_thermal", "sw_power_cap")), _dev(2.5, 250, 1500, ("gpu_idle",)),
               _dev(1.2, 700, 100, ("hw_slowdown",), device="gpu:1")]
    st = device_state(samples, "gpu:0", int(1.1e9), int(2.2e9), anchor_mono_ns=int(1e9))
    assert st["start"]["power_limit_w"] == 250 and st["start"]["sm_clock_mhz"] == 1980
    assert st["start"]["t_ns"] == 0 and st["end"]["t_ns"] == int(1e9)
    assert st["end"]["sm_clock_mhz"] == 1700 and st["end"]["temperature_c"] == 52.0
    assert st["throttle_reasons_seen"] == ["hw_thermal", "sw_power_cap"] and st["n_samples"] == 3
    assert device_summary(st) == {"power_limit_w": 250, "clocks_mhz": {"sm": 1700, "mem": 2619.0},
                                  "throttle_reasons": ["hw_thermal", "sw_power_cap"]}
    none = device_state(samples, "cpu", 0, int(3e9))
    assert "no device statistics of cpu" in none["note"] and device_summary(none) == {}


def test_a_crash_row_survives_a_failed_set_and_a_later_sweep_puts_its_original_back(tmp_path: Path) -> None:
    nv = _gpu(fail_set_at=0)
    journal = Journal(tmp_path / "j.sqlite3")
    key = "nvml:" + nv.gpus[0].uuid
    journal.remember_limit(key, 350.0, "crashed")  # an earlier crash left 300 W in force; the original was 350
    session = PowerLimits(journal, nvml=nv).session("gpu:0", owner="now")
    with pytest.raises(LimitError):
        session.set_w(250.0)
    assert journal.pending_limits() == [(key, 350.0, "crashed")]  # not forgotten: it is not this session's
    session.set_w(250.0)
    assert session.restore() == []
    assert nv.gpus[0].limit_mw == 350_000 and journal.pending_limits() == []
