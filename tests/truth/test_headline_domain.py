"""Energy belongs to the device that ran (METRICS.md headline rule): never the domain that sorts first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from agents import start_agent
from traces import Track, constant, write_power_trace

from wattfleet.agent.figures.record import fill_measured, record_of
from wattfleet.agent.telemetry.types import EnergyWindow
from wattfleet.agent.workloads.config import LoadConfig
from wattfleet.core.model import Query, RunRecord, Window
from wattfleet.core.model.domains import headline_domain
from wattfleet.tui.fleet.run_cli import HostResult, summary_table

S = 1_000_000_000


def _window(domain: str, watts: float) -> EnergyWindow:
    return EnergyWindow(domain, 0, 10 * S, watts * 10, watts, watts, "counter", 20.0, 200, False)


def _gpu1_record() -> RunRecord:
    """A run on gpu:1 of a host with two GPUs and RAPL, through the one record builder."""
    record = record_of("r-gpu1", profile={"name": "p", "load": {"scenario": "single-stream"}}, device="gpu:1",
                       anchor_mono_ns=1)
    queries = [Query(i, i * S // 10, i * S // 10, i * S // 10 + 5_000_000, tuple(i * S // 10 + k * 1_000_000
                                                                                  for k in range(1, 6)))
               for i in range(1, 91)]
    energy = {"cpu-package": _window("cpu-package", 60.0), "gpu-board:0": _window("gpu-board:0", 80.0),
              "gpu-board:1": _window("gpu-board:1", 300.0)}
    fill_measured(record, scenario="single-stream", load=LoadConfig(min_duration_s=1.0, min_queries=8),
                  slo=None, queries=queries, window=Window(t0_ns=S // 10, t1_ns=9 * S + 5_000_000,
                                                           ended_by="limits met"), energy=energy)
    return record


def test_the_rule_picks_the_runs_own_device_never_the_first_by_name() -> None:
    domains = ["cpu-package", "gpu-board:0", "gpu-board:1", "gpu-module:1", "soc-input", "estimated"]
    assert headline_domain("gpu:1", domains) == "gpu-board:1"
    assert headline_domain("gpu:1", ["cpu-package", "gpu-module:1"]) == "gpu-module:1"  # Grace module scope
    assert headline_domain("gpu:0", ["soc-input", "soc-rail:VDD_GPU"]) == "soc-input"  # a Jetson
    assert headline_domain("cpu", domains) == "cpu-package"
    assert headline_domain("cpu", ["estimated", "gpu-board:0"]) == "estimated"
    assert headline_domain("gpu:2", ["cpu-package", "gpu-board:0"]) == ""  # its own GPU unmeasured: none


def test_a_run_on_gpu1_shows_gpu_board_1_in_the_record_the_run_table_and_json() -> None:
    record = _gpu1_record()
    assert record.headline_domain == "gpu-board:1" and record.energy[0].domain == "gpu-board:1"
    assert [e.domain for e in record.energy[1:]] == ["cpu-package", "gpu-board:0"]  # the others, beside
    tpj = record.headline("tokens_per_j")
    assert tpj is not None and tpj.domain == "gpu-board:1"
    again = RunRecord.from_json(record.to_json())
    assert again.headline_domain == "gpu-board:1" and json.loads(record.to_json())["headline_domain"] == "gpu-board:1"
    # `wattfleet run`'s table and --json take the headline from the record (HostResult as run_on_host fills it)
    result = HostResult("127.0.0.1:1", host_id="two-gpus", run_id="r-gpu1", state="completed", record_path="r.json",
                        figures={f.key: f for f in record.figures}, headline=record.headline_domain, valid=True)
    header, row = summary_table([result]).splitlines()[:2]
    cells = dict(zip([c.strip() for c in header.split("  ") if c.strip()],
                     [c.strip() for c in row.split("  ") if c.strip()], strict=False))
    assert cells["tokens_per_j"].endswith("[gpu-board:1]"), row
    assert "[cpu-package]" in row and "[gpu-board:0]" in row  # listed beside, under "other domains"


def _trace(path: Path) -> Path:
    return write_power_trace(path, [Track("nvml", "gpu-board:0", constant(80), lambda i: 0.8 * i),
                                    Track("nvml", "gpu-board:1", constant(300), lambda i: 3.0 * i),
                                    Track("rapl", "cpu-package", constant(60))])


@pytest.mark.parametrize(("provider", "device"), [("cpu", ""), ("cuda", "gpu:1")])
def test_through_a_real_agent_the_headline_is_the_device_that_really_ran(tmp_path: Path, provider: str,
                                                                         device: str) -> None:
    """Two GPUs and RAPL (replayed). On this machine no GPU provider works, so a gpu:1 run with fallback really
    runs on the CPU: its energy is the CPU's, never gpu-board:0's (the first GPU) nor gpu-board:1's."""
    trace = _trace(tmp_path / "trace.csv")
    agent = start_agent(tmp_path, host_id="two-gpus", extra=("--power-source", f"replay-loop:{trace}"))
    try:
        sets = ["--set", f"runtime.provider={provider}", "--set", "load.min_duration_s=0.5",
                "--set", "load.target_latency_percentile=0"] + (["--set", "runtime.fallback=true"] if device else [])
        proc = subprocess.run(
            [sys.executable, "-m", "wattfleet.core.cli", "run", "smoke", "--hosts", agent.target, "--token",
             agent.token, "--out", str(tmp_path), "--json", *(["--device", device] if device else []), *sets],
            capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, proc.stderr
        (row,) = json.loads(proc.stdout)
        assert row["headline_domain"] == "cpu-package", row
        record = RunRecord.from_json(Path(row["record"]).read_text())
        assert record.device == "cpu" and record.headline_domain == "cpu-package"
        assert {e.domain for e in record.energy} == {"cpu-package", "gpu-board:0", "gpu-board:1"}
        if device:
            assert record.environment["fell_back"] is True
    finally:
        agent.stop()


async def test_runs_that_overlap_on_one_cpu_package_are_flagged_shared(tmp_path: Path) -> None:
    from wattfleet.core.client import AgentClient
    from wattfleet.core.model import RunSpec

    trace = _trace(tmp_path / "trace.csv")
    agent = start_agent(tmp_path, host_id="overlap", extra=("--power-source", f"replay-loop:{trace}"))
    common = {"load.target_latency_percentile": "0", "runtime.intra_op_threads": "1"}
    try:
        async with AgentClient(agent.target, token=agent.token) as c:
            long = await c.start_run(RunSpec(profile="smoke", overrides={**common, "load.min_duration_s": "2.5"}))
            async for event in c.watch_run(long.run_id):  # once it measures, a second run on another device
                if getattr(event.body, "state", "") == "measuring":
                    break
            other = await c.start_run(RunSpec(profile="smoke", device="gpu:0", overrides={
                **common, "load.min_duration_s": "0.5", "runtime.provider": "cuda", "runtime.fallback": "true"}))
            records = {}
            for handle in (long, other):
                async for _event in c.watch_run(handle.run_id):
                    pass
                records[handle.run_id] = await c.get_run(handle.run_id)
            alone = await c.start_run(RunSpec(profile="smoke", overrides={**common, "load.min_duration_s": "0.5"}))
            async for _event in c.watch_run(alone.run_id):
                pass
            lone = await c.get_run(alone.run_id)
    finally:
        agent.stop()
    for run_id, record in records.items():  # both ran on the one CPU package at the same time
        cpu = next(e for e in record.energy if e.domain == "cpu-package")
        assert record.state == "completed" and cpu.shared, (run_id, record.energy)
    assert not next(e for e in lone.energy if e.domain == "cpu-package").shared  # alone: not shared
