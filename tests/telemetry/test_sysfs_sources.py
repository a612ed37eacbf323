"""RAPL, Jetson (hwmon and iio layouts), generic hwmon and the estimate, against fake sysfs trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from wattfleet.agent.telemetry import Sampler, SourceUnavailable
from wattfleet.agent.telemetry.estimated import EstimatedSource
from wattfleet.agent.telemetry.hwmon import HwmonSource
from wattfleet.agent.telemetry.jetson import JetsonSource
from wattfleet.agent.telemetry.rapl import RaplSource

from .fake_sysfs import DenyingReader, jetson_iio, jetson_orin_hwmon, rapl_tree, write

S = 1_000_000_000


def test_rapl_counter_wraps_mid_window_and_survives_bad_reads(tmp_path: Path) -> None:
    top = 262_143_328_850  # a real max_energy_range_uj
    rapl_tree(tmp_path, max_range_uj=top)
    energy = tmp_path / "sys/class/powercap/intel-rapl:0/energy_uj"
    src = RaplSource(tmp_path)
    assert src.domains == ("cpu-package", "cpu-dram")
    s = Sampler([src], rate_hz=10.0)
    raw = top - 200_000_000  # 200 J before the wrap: at 50 W it wraps at t = 4 s
    bad = {33: "garbage\x00", 47: "back", 61: None}  # garbage, a step back, a vanished file
    for i in range(101):
        if i:
            raw = (raw + 5_000_000) % top  # 5 J per 0.1 s = 50 W
        text = bad.get(i, str(raw))
        if text == "back":
            text = str(raw - 5_000_000 - 1000)  # a little below the previous reading
        if text is None:
            energy.unlink()
        else:
            energy.write_text(text)
        s.tick(i * S // 10)
    by_seq = {x.t_ns: x for x in s.samples_after(0) if x.domain == "cpu-package"}
    assert all(by_seq[i * S // 10].missing for i in bad)
    assert by_seq[50 * S // 10].power_w == pytest.approx(50.0)
    w = s.energy(S, 9 * S)["cpu-package"]
    assert w.method == "counter"
    assert w.energy_j == pytest.approx(400.0)  # across the wrap, none lost
    assert len(w.missing_spans) == 3 and w.low_confidence


def test_rapl_sums_packages(tmp_path: Path) -> None:
    rapl_tree(tmp_path, packages=2)
    src = RaplSource(tmp_path)
    for i, uj in enumerate((0, 2_000_000)):
        for n in (0, 1):
            (tmp_path / f"sys/class/powercap/intel-rapl:{n}/energy_uj").write_text(str(uj * (n + 1)))
        readings = {r.domain: r for r in src.read(i * S)}
    assert readings["cpu-package"].power_w == pytest.approx(6.0)  # 2 W + 4 W
    assert readings["cpu-package"].energy_j == pytest.approx(6.0)


def test_rapl_without_root_says_why(tmp_path: Path) -> None:
    rapl_tree(tmp_path)
    with pytest.raises(SourceUnavailable, match=r"no permission: .*energy_uj is readable only by root"):
        RaplSource(tmp_path, reader=DenyingReader(tmp_path, "energy_uj"))


def test_rapl_absent(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable, match="absent"):
        RaplSource(tmp_path)


def test_jetson_hwmon_layout_skips_nc_and_shunt_sum_and_uses_vdd_in(tmp_path: Path) -> None:
    jetson_orin_hwmon(tmp_path)
    src = JetsonSource(tmp_path)
    assert src.name == "jetson-hwmon"
    assert src.domains == ("soc-rail:VDD_GPU_SOC", "soc-rail:VDD_CPU_CV", "soc-rail:VIN_SYS_5V0",
                           "soc-rail:VDDQ_VDD2_1V8AO", "soc-input")
    got = {r.domain: r.power_w for r in src.read(0)}
    assert got["soc-rail:VDD_GPU_SOC"] == pytest.approx(5.0)
    assert got["soc-input"] == pytest.approx(19.0)  # VDD_IN, not the sum
    assert "VDD_IN rail" in src.detail


def test_jetson_rail_vanishing_mid_run_is_missing_others_go_on(tmp_path: Path) -> None:
    chip = jetson_orin_hwmon(tmp_path)
    src = JetsonSource(tmp_path)
    (chip / "curr1_input").unlink()
    (chip / "curr2_input").write_text("not-a-number\n")
    got = {r.domain: r for r in src.read(0)}
    assert got["soc-rail:VDD_GPU_SOC"].missing and got["soc-rail:VDD_CPU_CV"].missing
    assert got["soc-rail:VIN_SYS_5V0"].power_w == pytest.approx(3.0)
    assert got["soc-input"].power_w == pytest.approx(19.0)


def test_jetson_ina238_rail(tmp_path: Path) -> None:
    chip = "sys/class/hwmon/hwmon3"
    write(tmp_path, {f"{chip}/name": "ina238", f"{chip}/in1_label": "VDD_GPU",
                     f"{chip}/power1_input": 31_250_000})
    src = JetsonSource(tmp_path)
    got = {r.domain: r.power_w for r in src.read(0)}
    assert got == {"soc-rail:VDD_GPU": pytest.approx(31.25), "soc-input": pytest.approx(31.25)}
    assert "sum of the rails" in src.detail


def test_jetson_iio_layout_with_input_rail(tmp_path: Path) -> None:
    jetson_iio(tmp_path)
    src = JetsonSource(tmp_path)
    assert src.name == "jetson-iio"
    got = {r.domain: r.power_w for r in src.read(0)}
    assert got == {"soc-rail:POM_5V_GPU": pytest.approx(0.5), "soc-rail:POM_5V_CPU": pytest.approx(0.8),
                   "soc-input": pytest.approx(3.0)}


def test_jetson_iio_without_input_rail_sums_rails_and_goes_missing_with_one(tmp_path: Path) -> None:
    dev = jetson_iio(tmp_path, with_input=False)
    src = JetsonSource(tmp_path)
    assert {r.domain: r.power_w for r in src.read(0)}["soc-input"] == pytest.approx(4.3)
    (dev / "in_power1_input").unlink()
    got = {r.domain: r for r in src.read(1)}
    assert got["soc-input"].missing and got["soc-rail:POM_5V_GPU"].missing
    assert got["soc-rail:VDD_SYS_GPU"].power_w == pytest.approx(3.0)


def test_jetson_absent(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable, match="absent: no INA3221/INA238"):
        JetsonSource(tmp_path)


def test_hwmon_amdgpu_power_and_intel_energy_counter(tmp_path: Path) -> None:
    write(tmp_path, {
        "sys/class/hwmon/hwmon0/name": "coretemp", "sys/class/hwmon/hwmon0/temp1_input": 45000,
        "sys/class/hwmon/hwmon1/name": "amdgpu", "sys/class/hwmon/hwmon1/power1_average": 45_000_000,
        "sys/class/hwmon/hwmon1/power1_label": "PPT",
        "sys/class/hwmon/hwmon2/name": "xe", "sys/class/hwmon/hwmon2/energy1_input": 0,
        "sys/class/hwmon/hwmon2/energy1_label": "card",
        "sys/class/hwmon/hwmon3/name": "ina3221", "sys/class/hwmon/hwmon3/power1_input": 1,
    })
    src = HwmonSource(tmp_path)
    assert src.domains == ("hwmon:amdgpu:PPT", "hwmon:xe:card")
    counter = tmp_path / "sys/class/hwmon/hwmon2/energy1_input"
    s = Sampler([src], rate_hz=10.0)
    for i in range(61):
        counter.write_text(str(i * 2_000_000 if i != 30 else 10))  # 20 W; one reading goes backwards
        s.tick(i * S // 10)
    w = s.energy(0, 6 * S)
    assert w["hwmon:amdgpu:PPT"].energy_j == pytest.approx(270.0) and w["hwmon:amdgpu:PPT"].method == "integral"
    assert w["hwmon:xe:card"].energy_j == pytest.approx(120.0) and w["hwmon:xe:card"].method == "counter"
    assert w["hwmon:xe:card"].missing_spans == [(29 * S // 10, 31 * S // 10)]


def test_estimated_is_utilisation_times_tdp(tmp_path: Path) -> None:
    stat = tmp_path / "proc/stat"
    write(tmp_path, {"proc/stat": "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1 0 1 8 0 0 0 0 0 0"})
    src = EstimatedSource(tdp_w=100.0, root=tmp_path)
    assert src.read(0)[0].power_w is None  # no interval yet
    stat.write_text("cpu  150 0 150 1100 0 0 0 0 0 0\n")
    r = src.read(S)[0]
    assert r.domain == "estimated" and r.power_w == pytest.approx(25.0)
    assert "estimated, not measured" in src.detail
