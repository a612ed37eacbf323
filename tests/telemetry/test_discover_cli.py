"""Source discovery, the device list and `wattfleet telemetry`, through the real command."""

from __future__ import annotations

import json
from pathlib import Path

import pynvml
import pytest

from wattfleet.agent.telemetry import Sample, TraceRecorder, read_trace
from wattfleet.agent.telemetry.devices import list_devices
from wattfleet.agent.telemetry.discover import build_sources
from wattfleet.core.cli import main as wattfleet

from .fake_nvml import FakeGpu, FakeNvml
from .fake_sysfs import jetson_orin_hwmon, rapl_tree, write

S = 1_000_000_000


def _trace(path: Path, seconds: float = 3.0) -> None:
    with TraceRecorder(path) as rec:
        rec.write(Sample(i + 1, i * S // 20, "nvml", "gpu-board:0", 250.0, 250.0 * i / 20) for i in
                  range(int(seconds * 20) + 1))


def test_autodetect_reports_every_kind_and_falls_back_to_the_estimate(tmp_path: Path) -> None:
    write(tmp_path, {"proc/stat": "cpu  1 0 1 8 0 0 0 0 0 0\n"})
    nv = FakeNvml([], init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    sources, statuses = build_sources(root=str(tmp_path), nvml=nv)
    assert [s.name for s in sources] == ["estimated"]
    by = {s.name: s for s in statuses}
    assert set(by) == {"nvml", "jetson", "rapl", "hwmon", "estimated"}
    assert not by["nvml"].available and "no NVIDIA driver" in by["nvml"].detail
    assert not by["rapl"].available and by["rapl"].detail.startswith("absent")
    assert by["estimated"].available and "not measured" in by["estimated"].detail


def test_autodetect_on_a_jetson_with_rapl_less_cpu_skips_the_estimate(tmp_path: Path) -> None:
    jetson_orin_hwmon(tmp_path)
    sources, statuses = build_sources(root=str(tmp_path), nvml=FakeNvml([FakeGpu()]))
    assert [s.name for s in sources] == ["nvml", "jetson-hwmon"]
    est = next(s for s in statuses if s.name == "estimated")
    assert not est.available and "measured" in est.detail


def test_explicit_specs_and_bad_ones(tmp_path: Path) -> None:
    rapl_tree(tmp_path)
    sources, statuses = build_sources([f"rapl:{tmp_path}", "hwmon:/nonexistent-root", "estimated:tdp_w=30"])
    assert [s.name for s in sources] == ["rapl", "estimated"]
    assert [s.available for s in statuses] == [True, False, True]
    from wattfleet.core.errors import UsageError

    with pytest.raises(UsageError, match="unknown power source 'bogus'"):
        build_sources(["bogus"])
    with pytest.raises(UsageError, match="not a number"):
        build_sources(["estimated:tdp_w=lots"])


def test_list_devices_gpu_cpu_and_soc(tmp_path: Path) -> None:
    write(tmp_path, {"proc/cpuinfo": "processor\t: 0\nmodel name\t: ARMv8 Processor rev 1 (v8l)\n",
                     "proc/device-tree/model": "NVIDIA Jetson AGX Orin Developer Kit\x00",
                     "proc/meminfo": "MemTotal:       65536 kB\n"})
    devs = list_devices(tmp_path, nvml=FakeNvml([FakeGpu(name="Orin (nvgpu)")]))
    assert [(d.kind, d.name) for d in devs] == [("gpu", "Orin (nvgpu)"),
                                                ("soc", "NVIDIA Jetson AGX Orin Developer Kit"),
                                                ("cpu", "ARMv8 Processor rev 1 (v8l)")]
    assert devs[2].memory_bytes == 65536 * 1024


def test_cli_json_from_a_replayed_trace_and_recording(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace, out = tmp_path / "in.csv", tmp_path / "out.csv"
    _trace(trace)
    rc = wattfleet(["telemetry", "--source", f"replay:{trace}", "--json", "--count", "2",
                    "--interval-s", "0.2", "--record", str(out)])
    assert rc == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2
    row = lines[-1]["readings"][0]
    assert (row["domain"], row["source"], row["power_w"]) == ("gpu-board:0", "replay", 250.0)
    assert row["power_avg_w"] == pytest.approx(250.0, rel=0.05)
    assert lines[0]["sources"][0]["name"] == "replay" and lines[0]["sources"][0]["available"]
    recorded = read_trace(out)
    assert len(recorded) >= 6 and all(s.power_w == 250.0 for s in recorded)


def test_cli_table_on_fake_rapl_says_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rapl_tree(tmp_path)
    rc = wattfleet(["telemetry", "--source", f"rapl:{tmp_path}", "--source", f"jetson:{tmp_path}", "--once",
                    "--interval-s", "0.2"])
    text = capsys.readouterr().out
    assert rc == 0
    assert "found  rapl" in text and "cpu-package" in text
    jetson_line = next(x for x in text.splitlines() if " jetson " in x)
    assert "absent" in jetson_line and "INA3221" in jetson_line


def test_cli_without_any_source_fails_with_advice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = wattfleet(["telemetry", "--source", f"rapl:{tmp_path}", "--once"])
    captured = capsys.readouterr()
    assert rc == 1
    assert "absent" in captured.out and "no power source works" in captured.err


def test_cli_bad_flag_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert wattfleet(["telemetry", "--count", "-3"]) == 2
    assert "--count" in capsys.readouterr().err
    assert wattfleet(["telemetry", "--source", "bogus", "--once"]) == 2
