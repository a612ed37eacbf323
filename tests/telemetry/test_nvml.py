"""NVML source against a fake module with the real names, units and NVMLError codes."""

from __future__ import annotations

import pynvml
import pytest

from wattfleet.agent.telemetry import Sampler, SourceUnavailable
from wattfleet.agent.telemetry.nvml import NvmlSource

from .fake_nvml import FakeGpu, FakeNvml

S = 1_000_000_000


def _run(nv: FakeNvml, src: NvmlSource, ticks: int, rate_hz: float = 10.0) -> Sampler:
    s = Sampler([src], rate_hz=rate_hz, device_every=1)
    for i in range(ticks):
        nv.set_tick(i)
        s.tick(i * int(S / rate_hz))
    return s


@pytest.mark.parametrize("as_field", [True, False], ids=["counter-as-field", "counter-by-function"])
def test_hopper_instant_field_and_energy_counter(as_field: bool) -> None:
    nv = FakeNvml([FakeGpu(power_mw=lambda t: 300_000 if t % 2 else 200_000, energy_field_supported=as_field)])
    src = NvmlSource(nv)
    assert src.domains == ("gpu-board:0",)
    assert "instant power field" in src.detail and "energy counter" in src.detail
    s = _run(nv, src, 61)
    assert ("energy" in nv.gpus[0].calls[-12:]) is not as_field  # one NVML call a tick when it can
    first = s.samples_after(0)[1]
    assert first.power_w in (200.0, 300.0) and first.energy_j is not None
    w = s.energy(0, 6 * S)["gpu-board:0"]
    assert w.method == "counter"
    assert w.energy_j == pytest.approx(1500.0, rel=0.02)  # mean 250 W over 6 s
    assert w.power_peak_w == pytest.approx(300.0)
    dev = s.device_samples_after(0)[-1]
    assert dev.device == "gpu:0" and dev.utilization_pct == 87.0 and dev.power_limit_w == 700.0
    assert dev.memory_used_bytes == 20 * 2**30 and dev.sm_clock_mhz == 1980.0 and dev.temperature_c == 64.0


def test_instant_field_not_supported_falls_back_to_averaged_and_says_so() -> None:
    nv = FakeNvml([FakeGpu(instant_supported=False, avg_power_mw=123_456)])
    src = NvmlSource(nv)
    assert "averaged power" in src.detail
    assert src.read(0)[0].power_w == pytest.approx(123.456)


def test_pre_volta_has_no_counter_and_integrates_power() -> None:
    nv = FakeNvml([FakeGpu(name="Tesla P100-PCIE-16GB", arch=pynvml.NVML_DEVICE_ARCH_PASCAL,
                           energy_supported=False, power_mw=lambda t: 150_000)])
    src = NvmlSource(nv)
    assert "no energy counter" in src.detail
    s = _run(nv, src, 61)
    w = s.energy(0, 6 * S)["gpu-board:0"]
    assert w.method == "integral" and w.energy_j == pytest.approx(900.0)
    assert all(x.energy_j is None for x in s.samples_after(0))


def test_gpu_lost_mid_run_marks_it_missing_and_the_other_goes_on() -> None:
    nv = FakeNvml([FakeGpu(), FakeGpu(uuid="GPU-lost", lost_at_tick=30)])
    src = NvmlSource(nv)
    assert src.domains == ("gpu-board:0", "gpu-board:1")
    s = _run(nv, src, 61)
    lost = [x for x in s.samples_after(0) if x.domain == "gpu-board:1"]
    assert not any(x.missing for x in lost[:30]) and all(x.missing for x in lost[30:])
    w = s.energy(0, 6 * S)
    assert w["gpu-board:0"].energy_j == pytest.approx(1800.0, rel=0.02) and not w["gpu-board:0"].missing_spans
    assert w["gpu-board:1"].missing_spans == [(29 * S // 10, 6 * S)] and w["gpu-board:1"].low_confidence
    assert "LOST: gpu:1" in src.status().detail
    calls_after = len(nv.gpus[1].calls)
    src.read(99 * S)
    assert len(nv.gpus[1].calls) == calls_after  # a lost GPU is not asked again
    assert {d.device for d in s.device_samples_after(s.latest_device_seq - 1)} == {"gpu:0"}


def test_grace_module_scope_domain() -> None:
    nv = FakeNvml([FakeGpu(name="NVIDIA GH200 480GB", module_mw=650_000)])
    src = NvmlSource(nv)
    assert src.domains == ("gpu-board:0", "gpu-module:0")
    got = {r.domain: r.power_w for r in src.read(0)}
    assert got["gpu-module:0"] == pytest.approx(650.0)


def test_jetson_like_gpu_without_power_has_no_domain() -> None:
    nv = FakeNvml([FakeGpu(name="Orin (nvgpu)", instant_supported=False, avg_power_mw=None,
                           energy_supported=False)])
    src = NvmlSource(nv)
    assert src.domains == () and "no power" in src.detail
    assert src.read(0) == []


def test_throttle_reasons_are_named() -> None:
    bits = pynvml.nvmlClocksEventReasonSwPowerCap | pynvml.nvmlClocksEventReasonHwThermalSlowdown
    nv = FakeNvml([FakeGpu(reasons=bits)])
    (dev,) = NvmlSource(nv).read_devices(0)
    assert dev.throttle_reasons == ("sw_power_cap", "hw_thermal")


def test_no_driver_is_absent_with_reason() -> None:
    nv = FakeNvml([], init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    with pytest.raises(SourceUnavailable, match="absent: no NVIDIA driver"):
        NvmlSource(nv)


def test_devices_inventory() -> None:
    nv = FakeNvml([FakeGpu()])
    (info,) = NvmlSource(nv).devices()
    assert (info.kind, info.name, info.memory_bytes, info.power_limit_w, info.driver) == (
        "gpu", "NVIDIA H100 80GB HBM3", 80 * 2**30, 700.0, "570.86.15")
