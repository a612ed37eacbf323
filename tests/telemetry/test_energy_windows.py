"""Energy over windows: known answers from replayed traces, counters, gaps and missing samples."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from wattfleet.agent.telemetry import Sample, TraceRecorder, energy_from_samples, read_trace, window_energy
from wattfleet.core.errors import ConfigError, UsageError

from .fakes import sine_energy, sine_power

S = 1_000_000_000


def _sine_trace(path: Path, rate_hz: float, seconds: float, counter: bool) -> None:
    n = int(seconds * rate_hz) + 1
    with TraceRecorder(path) as rec:
        rec.write(
            Sample(i + 1, 5 * S + int(i * S / rate_hz), "nvml", "gpu-board:0", sine_power(i / rate_hz),
                   sine_energy(0.0, i / rate_hz) + 1234.0 if counter else None)
            for i in range(n)
        )


@pytest.mark.parametrize("counter", [False, True], ids=["integral", "counter"])
def test_replayed_trace_energy_matches_the_analytic_integral(tmp_path: Path, counter: bool) -> None:
    trace = tmp_path / "sine.csv"
    _sine_trace(trace, rate_hz=20.0, seconds=12.0, counter=counter)
    a, b = 1.013, 11.027  # window edges fall between samples
    w = energy_from_samples(read_trace(trace), 5 * S + int(a * S), 5 * S + int(b * S))["gpu-board:0"]
    exact = sine_energy(a, b)
    assert w.energy_j is not None
    assert abs(w.energy_j - exact) / exact < 0.005
    assert w.method == ("counter" if counter else "integral")
    assert w.power_avg_w == pytest.approx(w.energy_j / (b - a))
    assert 135.0 < (w.power_peak_w or 0) <= 140.0
    assert w.sample_rate_hz == pytest.approx(20.0, rel=0.01)
    assert not w.low_confidence and w.missing_spans == []


def test_short_window_is_low_confidence_with_a_reason(tmp_path: Path) -> None:
    trace = tmp_path / "sine.csv"
    _sine_trace(trace, rate_hz=20.0, seconds=3.0, counter=False)
    w = energy_from_samples(read_trace(trace), 5 * S, 5 * S + 2 * S)["gpu-board:0"]
    assert w.low_confidence
    assert any("shorter than 5 s" in n for n in w.notes)


def test_missing_samples_are_bridged_and_reported() -> None:
    ts = [i * S // 10 for i in range(101)]  # 10 Hz over 10 s, constant 80 W
    ps = [80.0] * 101
    ms = [False] * 101
    for i in range(40, 45):  # half a second of failed reads
        ps[i], ms[i] = math.nan, True
    w = window_energy("soc-input", ts, ps, [math.nan] * 101, ms, 0, 10 * S)
    assert w.energy_j == pytest.approx(800.0)
    assert w.missing_spans == [(ts[39], ts[45])]
    assert w.low_confidence and any("bridged" in n for n in w.notes)


def test_window_outside_recorded_data_holds_edges_and_says_so() -> None:
    ts = [2 * S + i * S // 10 for i in range(31)]  # data only from 2 s to 5 s
    w = window_energy("x", ts, [10.0] * 31, [math.nan] * 31, [False] * 31, 0, 10 * S)
    assert w.energy_j == pytest.approx(100.0)  # edges held at 10 W
    assert w.missing_spans == [(0, 2 * S), (5 * S, 10 * S)]


def test_no_data_gives_no_energy_not_zero() -> None:
    w = window_energy("x", [S], [math.nan], [math.nan], [True], 0, 10 * S)
    assert w.energy_j is None and w.method == "none" and w.low_confidence
    assert w.missing_spans == [(0, 10 * S)]


def test_empty_window_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="empty"):
        window_energy("x", [0, S], [1.0, 1.0], [math.nan] * 2, [False] * 2, S, S)


def test_malformed_trace_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("t_ns,source,domain,power_w,energy_j,missing\n1,nvml,gpu-board:0,abc,,0\n")
    with pytest.raises(ConfigError, match=r"bad\.csv:2: power_w 'abc'"):
        read_trace(bad)


def test_window_ending_between_two_ticks_is_not_missing_data() -> None:
    ts = [i * S // 20 for i in range(201)]  # 20 Hz up to 10 s; the run ends 30 ms after the last tick
    w = window_energy("gpu-board:0", ts, [100.0] * 201, [math.nan] * 201, [False] * 201, S // 100, 10 * S + 30_000_000,
                      gap_ns=4 * S // 20)
    assert w.missing_spans == [] and not w.low_confidence
    assert w.energy_j == pytest.approx(100.0 * (10.03 - 0.01))


def test_failed_read_at_the_window_end_is_missing_even_within_the_gap() -> None:
    ts = [i * S // 20 for i in range(201)]
    ms = [i == 200 for i in range(201)]
    ps = [math.nan if m else 100.0 for m in ms]
    w = window_energy("x", ts, ps, [math.nan] * 201, ms, 0, 10 * S, gap_ns=4 * S // 20)
    assert w.missing_spans == [(ts[199], 10 * S)]
