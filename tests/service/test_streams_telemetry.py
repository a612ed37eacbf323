"""Telemetry over a real agent: sequenced batches, resume, merging per interval, and /metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from agents import RunningAgent, free_port, scrape_metrics, start_agent
from traces import Track, constant, write_power_trace

from wattfleet.core.client import AgentClient, AgentError
from wattfleet.core.model import RunRecord, RunSpec, TelemetryBatch

GPU_W, CPU_W = 200.0, 40.0


def _trace(path: Path) -> Path:
    """1 s at 100 Hz: the GPU has an energy counter, the CPU only power."""
    return write_power_trace(path, [Track("nvml", "gpu-board:0", constant(GPU_W), lambda i: GPU_W * 0.01 * i),
                                    Track("rapl", "cpu-package", constant(CPU_W))])



@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAgent]:
    work = tmp_path_factory.mktemp("telemetry-agent")
    trace = _trace(work / "trace.csv")
    a = start_agent(
        work,
        host_id="tele-agent",
        extra=("--power-source", f"replay-loop:{trace}", "--telemetry-rate-hz", "50",
               "--metrics-port", str(free_port()), "--label", "site=lab-2"),
    )
    a.metrics_port = int(a.args[a.args.index("--metrics-port") + 1])  # type: ignore[attr-defined]
    try:
        yield a
    finally:
        a.stop()


async def _batches(c: AgentClient, n: int, *, interval_s: float = 0.0, after_seq: int = 0) -> list[TelemetryBatch]:
    out: list[TelemetryBatch] = []
    async for batch in c.stream_telemetry(interval_s, after_seq):
        out.append(batch)
        if len(out) == n:
            break
    return out


async def test_telemetry_batches_are_contiguous_resumable_and_carry_the_trace(agent: RunningAgent) -> None:
    async with AgentClient(agent.target, token=agent.token) as c:
        first = await asyncio.wait_for(_batches(c, 8), 30)
        seqs = [b.seq for b in first]
        assert seqs == list(range(seqs[0], seqs[0] + 8))
        samples = [s for b in first for s in b.power]
        assert {s.domain for s in samples} == {"gpu-board:0", "cpu-package"}
        assert {s.power_w for s in samples if s.domain == "gpu-board:0"} == {GPU_W}
        assert all(s.energy_j is None for s in samples if s.domain == "cpu-package")
        t = [s.t_ns for s in samples if s.domain == "gpu-board:0"]
        assert t == sorted(t)  # one clock, in order

        resumed = await asyncio.wait_for(_batches(c, 3, after_seq=seqs[3]), 30)
        assert [b.seq for b in resumed] == seqs[4:7]
        assert resumed[0] == first[4]  # the same batch, not a new reading

        merged = await asyncio.wait_for(_batches(c, 2, interval_s=0.3), 30)
        assert merged[1].seq - merged[0].seq > 1  # several sampler batches in one message
        assert len(merged[1].power) > len(first[0].power)

        with pytest.raises(AgentError) as err:  # a seq from before an agent restart
            await _batches(c, 1, after_seq=10**9)
        assert err.value.code == "OUT_OF_RANGE" and "after_seq=0" in err.value.message
        with pytest.raises(AgentError) as err:
            await _batches(c, 1, interval_s=-1)
        assert err.value.code == "INVALID_ARGUMENT" and "interval_s" in err.value.message


async def test_metrics_show_power_energy_and_the_last_runs_figures(agent: RunningAgent) -> None:
    port: int = agent.metrics_port  # type: ignore[attr-defined]
    async with AgentClient(agent.target, token=agent.token) as c:
        await asyncio.wait_for(_batches(c, 3), 30)
        got = await asyncio.to_thread(scrape_metrics, port)
        assert ({"host_id": "tele-agent", "version": (await c.get_info()).agent_version, "site": "lab-2"}, 1.0) in (
            got["wattfleet_agent_info"]
        )
        power = {lab["domain"]: v for lab, v in got["wattfleet_power_watts"]}
        assert power == {"gpu-board:0": GPU_W, "cpu-package": CPU_W}
        energy = {lab["domain"]: v for lab, v in got["wattfleet_energy_joules_total"]}
        assert energy["cpu-package"] > 0 and energy["gpu-board:0"] > 0

        handle = await c.start_run(RunSpec(profile="smoke", overrides={"load.min_duration_s": "0.3"}))
        events = [e async for e in c.watch_run(handle.run_id)]
        summary = events[-1].body
        assert isinstance(summary, RunRecord) and summary.state == "completed", summary.error
        got = await asyncio.to_thread(scrape_metrics, port)
        tpj = {lab["domain"]: v for lab, v in got["wattfleet_last_run_tokens_per_joule"]}
        expected = {f.domain: f.value for f in summary.figures if f.name == "tokens_per_j"}
        assert tpj == expected and "gpu-board:0" in tpj
        lat = {(lab["metric"], lab["percentile"]): v for lab, v in got["wattfleet_last_run_latency_seconds"]}
        ttft_p99 = next(f.value for f in summary.figures if f.name == "ttft_p99")
        assert lat[("ttft", "99")] == pytest.approx(ttft_p99 / 1e3)
        assert [lab["run_id"] for lab, _ in got["wattfleet_last_run_info"]] == [handle.run_id]
        ended = {lab["state"]: v for lab, v in got["wattfleet_runs_ended_total"]}
        assert ended["completed"] >= 1
        assert {lab["state"]: v for lab, v in got["wattfleet_run_state"]}["idle"] == 1.0
