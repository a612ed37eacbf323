"""The sampler: bounded rings with sequence numbers, its thread, failing sources, live replay."""

from __future__ import annotations

import time
from itertools import pairwise
from pathlib import Path

import pytest

from wattfleet.agent.telemetry import ReplaySource, Sample, Sampler, TraceRecorder

from .fakes import BrokenSource, ConstSource, sine_energy, sine_power

S = 1_000_000_000


def _wait_for(cond: object, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out waiting for the sampler"
        time.sleep(0.01)


def test_ring_is_bounded_and_seq_resumable() -> None:
    s = Sampler([ConstSource()], rate_hz=10.0, capacity=16)
    for i in range(40):
        s.tick(i * S // 10)
    assert s.latest_seq == 40
    kept = s.samples_after(0)
    assert [x.seq for x in kept] == list(range(25, 41))
    assert s.oldest_seq == 25
    assert [x.seq for x in s.samples_after(37)] == [38, 39, 40]
    assert s.samples_after(40) == []


def test_energy_uses_history_longer_than_the_sample_ring() -> None:
    s = Sampler([ConstSource(power_w=50.0)], rate_hz=10.0, capacity=16)
    for i in range(101):
        s.tick(i * S // 10)
    w = s.energy(0, 10 * S)["test"]
    assert w.energy_j == pytest.approx(500.0)
    assert w.n_samples == 101


def test_broken_source_is_marked_missing_and_others_go_on() -> None:
    s = Sampler([BrokenSource(), ConstSource(counter=True)], rate_hz=10.0)
    for i in range(61):
        s.tick(i * S // 10)
    by_domain = {x.domain: x for x in s.samples_after(59)}
    assert by_domain["broken"].missing and by_domain["broken"].power_w is None
    assert by_domain["test"].power_w == 50.0 and not by_domain["test"].missing
    w = s.energy(0, 6 * S)
    assert w["test"].energy_j == pytest.approx(300.0) and w["test"].method == "counter"
    assert w["broken"].energy_j is None and w["broken"].missing_spans == [(0, 6 * S)]
    status = {st.name: st for st in s.statuses()}
    assert "sensor driver exploded" in status["broken"].detail


def test_thread_samples_at_rate_and_idle_baseline_is_reported_beside() -> None:
    with Sampler([ConstSource(power_w=42.0)], rate_hz=50.0) as s:
        base = s.idle_baseline(0.3)
        t0 = time.monotonic_ns()
        _wait_for(lambda: s.latest_seq > 20)
        t1 = time.monotonic_ns()
    assert not s.running
    assert base["test"] == pytest.approx(42.0)
    w = s.energy(t0, t1)["test"]
    assert w.idle_power_w == pytest.approx(42.0)
    assert w.low_confidence  # well under 5 s
    assert max(s.lateness_ns()) >= 0 and s.ticks > 20


def test_live_replay_plays_trace_at_its_own_timestamps(tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    rate = 50.0
    with TraceRecorder(trace) as rec:
        rec.write(Sample(i + 1, 7 * S + int(i * S / rate), "rapl", "cpu-package", sine_power(i / rate), None)
                  for i in range(61))
    src = ReplaySource(trace)
    with Sampler([src], rate_hz=20.0) as s:
        _wait_for(lambda: src.finished)
    got = s.samples_after(0)
    assert len(got) == 61 and all(x.source == "replay" for x in got)
    anchor = got[0].t_ns
    assert [x.t_ns - anchor for x in got] == [int(i * S / rate) for i in range(61)]
    w = s.energy(anchor + S // 10, anchor + 11 * S // 10)["cpu-package"]
    exact = sine_energy(0.1, 1.1)
    assert w.energy_j is not None and abs(w.energy_j - exact) / exact < 0.005


def test_bad_rate_is_refused() -> None:
    from wattfleet.core.errors import UsageError

    with pytest.raises(UsageError, match="out of range"):
        Sampler([ConstSource()], rate_hz=0.0)


def test_replay_loop_keeps_counters_rising(tmp_path: Path) -> None:
    trace = tmp_path / "c.csv"
    with TraceRecorder(trace) as rec:
        rec.write(Sample(i + 1, i * S // 10, "rapl", "cpu-package", 10.0, 100.0 + i) for i in range(11))
    src = ReplaySource(trace, loop=True)
    got = src.read(0) + src.read(S) + src.read(2 * S + S // 10)
    energies = [r.energy_j for r in got]
    assert len(got) == 22  # lap 0 by 1.0 s, lap 1 from 1.1 s to 2.1 s
    assert all(b is not None and a is not None and b > a for a, b in pairwise(energies))
    assert [r.t_ns for r in got[9:14]] == [9 * S // 10, S, 11 * S // 10, 12 * S // 10, 13 * S // 10]
    assert [r.energy_j for r in got[9:14]] == [109.0, 110.0, 111.0, 112.0, 113.0]  # seamless across the lap


def test_domain_history_ring_wraps_and_slices_across_the_seam() -> None:
    from wattfleet.agent.telemetry.series import DomainSeries

    ds = DomainSeries(10)
    for i in range(25):
        assert ds.append(i * S, float(i), None, i == 20)
    assert not ds.append(24 * S, 1.0, None, False)  # not newer than the last: refused
    assert (ds.size, ds.first_t_ns, ds.last_t_ns) == (10, 15 * S, 24 * S)
    ts, ps, _es, ms = ds.columns(17 * S, 21 * S)
    assert ts == [i * S for i in range(16, 23)] and ps == [float(i) for i in range(16, 23)]
    assert ms == [i == 20 for i in range(16, 23)]


def test_window_older_than_the_history_is_flagged() -> None:
    s = Sampler([ConstSource()], rate_hz=10.0, history_s=1.0)  # keeps about 26 readings
    for i in range(100):
        s.tick(i * S // 10)
    w = s.energy(0, 9 * S)["test"]
    assert w.low_confidence and any("retained history" in n for n in w.notes)
    assert w.missing_spans[0][0] == 0


def test_slow_trace_replayed_by_a_fast_sampler_is_not_full_of_gaps(tmp_path: Path) -> None:
    trace = tmp_path / "slow.csv"
    with TraceRecorder(trace) as rec:  # 2 Hz trace, 20 Hz sampler
        rec.write(Sample(i + 1, i * S // 2, "jetson-hwmon", "soc-input", 12.0, None) for i in range(21))
    s = Sampler([ReplaySource(trace)], rate_hz=20.0)
    for i in range(201):
        s.tick(i * S // 20)
    w = s.energy(0, 10 * S)["soc-input"]
    assert w.energy_j == pytest.approx(120.0) and w.missing_spans == []
