"""Power-limit sweeps through real agent processes: refused without the owner's flag (and the flag refused
without authentication), set per step and put back, a per-host reason when refused, and after `kill -9`
the next start puts the journaled original back before serving. The CPU's limit lives in a fake powercap
tree (--power-source rapl:ROOT); the GPU's in the file-backed fake NVML (WATTFLEET_NVML_MODULE)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from agents import RunningAgent, agent_command, start_agent
from telemetry.fake_nvml_process import read_state, write_state
from telemetry.fake_sysfs import rapl_tree

from wattfleet.agent.service.journal import Journal
from wattfleet.core.client import AgentClient, AgentError
from wattfleet.core.model import RunRecord, RunSpec
from wattfleet.tui.fleet.audit.records import runs_from_records

TESTS = Path(__file__).resolve().parents[1]
LIMIT = "sys/class/powercap/intel-rapl:0/constraint_0_power_limit_uw"
PROFILE = textwrap.dedent("""\
    name = "pl-sweep"
    [model]
    builtin = "decoder-tiny"
    [runtime]
    intra_op_threads = 1
    [load]
    scenario = "sweep"
    prompt_tokens = 6
    output_tokens = 4
    warmup_queries = 1
    min_duration_s = 0.2
    min_queries = 4
    concurrency = 2
    target_latency_percentile = 0
    [load.sweep]
    over = "power_limit"
    values = [60, 45]
    inner = "concurrency"
    """)


def _watts(root: Path) -> float:
    """The limit in the fake tree; a read that lands between the agent's truncate and write is retried."""
    for _ in range(100):
        text = (root / LIMIT).read_text().strip()
        if text:
            return int(text) / 1e6
        time.sleep(0.001)
    raise AssertionError(f"{root / LIMIT} stays empty")


async def _ended(c: AgentClient, run_id: str, timeout_s: float = 90.0) -> RunRecord:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = await c.get_run(run_id)
        if run.state in ("completed", "failed", "cancelled", "interrupted"):
            return run
        await asyncio.sleep(0.1)
    raise AssertionError(f"run {run_id} did not end within {timeout_s} s")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "sysfs"
    rapl_tree(root, limit_uw=95_000_000, max_power_uw=125_000_000)
    return root


@pytest.fixture
def allowed(tmp_path: Path, tree: Path) -> Iterator[RunningAgent]:
    a = start_agent(tmp_path, host_id="pl-host", extra=("--allow-power-limits", "--power-source", f"rapl:{tree}"))
    try:
        yield a
    finally:
        a.kill()


def test_the_flag_needs_authenticated_callers() -> None:
    done = subprocess.run(agent_command("--insecure", "--allow-power-limits", "--port", "0"), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "needs authenticated callers: drop --insecure" in done.stderr


async def test_an_agent_without_the_flag_refuses_a_power_limit_sweep(tmp_path: Path, tree: Path) -> None:
    a = start_agent(tmp_path, host_id="no-pl", extra=("--power-source", f"rapl:{tree}"))
    try:
        async with AgentClient(a.target, token=a.token) as c:
            with pytest.raises(AgentError) as info:
                await c.start_run(RunSpec(profile_toml=PROFILE))
            assert info.value.code == "FAILED_PRECONDITION"
            assert "does not allow; its owner can start it with --allow-power-limits" in info.value.message
            assert await c.list_runs() == []  # nothing was started
    finally:
        a.stop()
    assert _watts(tree) == 95.0


async def test_a_sweep_sets_each_limit_and_puts_the_original_back(allowed: RunningAgent, tree: Path) -> None:
    async with AgentClient(allowed.target, token=allowed.token) as c:
        handle = await c.start_run(RunSpec(profile_toml=PROFILE))
        run = await _ended(c, handle.run_id)
        assert run.state == "completed", run.error
        record = await c.get_run_record(handle.run_id)
        assert _watts(tree) == 95.0
        assert [s.environment["device"]["power_limit_w"] for s in record.sweep] == [60.0, 45.0]
        assert [s.run_id.rsplit("/", 1)[1] for s in record.sweep] == ["pl=60W", "pl=45W"]
        assert record.extras["power_limit"]["restored"] is True
        # a host that cannot take the limit asked for: the run fails with one line naming the host
        bad = await c.start_run(RunSpec(profile_toml=PROFILE, overrides={"load.sweep.values": "60,200"}))
        refused = await _ended(c, bad.run_id)
        assert refused.state == "failed" and "\n" not in refused.error
        assert refused.error.startswith("power-limit sweep refused on pl-host: cpu package-0 (intel-rapl:0): 200 W")
        assert _watts(tree) == 95.0
        # the audit reads each step as an operating point at its limit, and the refusal as a per-host reason
        audit = runs_from_records([record, await c.get_run_record(bad.run_id)], "agent")
        (run,) = audit.runs
        assert [s.setting for s in run.sweep] == ["concurrency=2 pl=60W", "concurrency=2 pl=45W"]
        assert [s.env.power_limit_w for s in run.sweep] == [60.0, 45.0]
        (rejected,) = audit.rejected
        assert rejected.host == "pl-host" and "refused on pl-host" in rejected.reason
    journal = Journal(allowed.data_dir / "journal.sqlite3")  # WAL: read beside the running agent
    assert journal.pending_limits() == []
    journal.close()


async def test_kill_9_mid_sweep_then_restart_puts_the_limit_back(tmp_path: Path, tree: Path,
                                                                 allowed: RunningAgent) -> None:
    async with AgentClient(allowed.target, token=allowed.token) as c:
        handle = await c.start_run(RunSpec(profile_toml=PROFILE, overrides={
            "load.sweep.values": "60,45,30", "load.min_duration_s": "1.5"}))
        deadline = time.monotonic() + 60
        while _watts(tree) != 45.0:  # the second step's limit is set
            assert time.monotonic() < deadline, f"step 2 never started: {_watts(tree)} W"
            await asyncio.sleep(0.02)
    allowed.kill()
    assert _watts(tree) == 45.0  # what a crash leaves behind
    again = start_agent(tmp_path, host_id="pl-host", data_dir=allowed.data_dir,
                        extra=("--power-source", f"rapl:{tree}"))  # restored even without the flag
    try:
        assert _watts(tree) == 95.0  # before SERVING
        assert "power limit of cpu package-0 (intel-rapl:0) restored to 95 W" in again.log()
        async with AgentClient(again.target, token=again.token) as c:
            cut = await c.get_run_record(handle.run_id)
            assert cut.state == "interrupted"
            assert "not kept: device samples are not journaled" in cut.environment["device_state"]["note"]
    finally:
        again.stop()
    journal = Journal(allowed.data_dir / "journal.sqlite3")
    assert journal.pending_limits() == []
    journal.close()


def _nvml_env(state: Path) -> dict[str, str]:
    return {"WATTFLEET_NVML_MODULE": "telemetry.fake_nvml_process:nvml", "FAKE_NVML_STATE": str(state),
            "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}


def test_a_gpu_limit_left_by_a_killed_process_is_put_back_at_the_next_start(tmp_path: Path) -> None:
    state = tmp_path / "nvml.json"
    write_state(state, [{"uuid": "GPU-0", "limit_mw": 300_000, "limit_min_mw": 100_000, "limit_max_mw": 700_000}])
    data = tmp_path / "agent-data"
    # the agent's run thread, as far as the limits go: journal the original, set a step's limit, then die
    sweep = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from wattfleet.agent.service.journal import Journal
        from wattfleet.agent.telemetry.limits import PowerLimits
        session = PowerLimits(Journal(Path({str(data / 'journal.sqlite3')!r}))).session("gpu:0", owner="run-x")
        session.set_w(250.0)
        print("set", flush=True)
        time.sleep(120)
        """)
    data.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", sweep], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, **_nvml_env(state)})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "set"
    finally:
        proc.kill()
        proc.wait(timeout=20)
    assert read_state(state)[0]["limit_mw"] == 250_000
    a = start_agent(tmp_path, host_id="gpu-host", data_dir=data, extra=("--power-source", "nvml"),
                    env=_nvml_env(state))
    try:
        gpu = read_state(state)[0]
        assert gpu["limit_mw"] == 300_000 and gpu["limits_set"] == [250_000, 300_000]
        assert "restored to 300 W (left changed by run run-x" in a.log()
    finally:
        a.stop()
    journal = Journal(data / "journal.sqlite3")
    assert journal.pending_limits() == []
    journal.close()


@pytest.fixture(scope="module")
def cuda() -> None:
    from wattfleet.agent.workloads.providers import probe_provider

    if not probe_provider("CUDAExecutionProvider").works:
        pytest.skip("needs a working CUDA provider: a GPU power-limit sweep must run on that GPU (the CPU "
                    "sweeps above take the same agent path)")


async def test_gpu_sweep_kill_9_and_restart_against_the_fake_nvml(tmp_path: Path, cuda: None) -> None:
    state = tmp_path / "nvml.json"
    write_state(state, [{"uuid": "GPU-0", "limit_mw": 300_000, "limit_min_mw": 100_000, "limit_max_mw": 700_000}])
    env = _nvml_env(state)
    a = start_agent(tmp_path, host_id="gpu-host", extra=("--allow-power-limits", "--power-source", "nvml"), env=env)
    gpu_profile = PROFILE.replace('[runtime]\n', '[runtime]\nprovider = "cuda"\n').replace("[60, 45]", "[250, 200]")
    try:
        async with AgentClient(a.target, token=a.token) as c:
            done = await _ended(c, (await c.start_run(RunSpec(profile_toml=gpu_profile))).run_id)
            assert done.state == "completed", done.error
            assert read_state(state)[0]["limits_set"] == [300_000, 250_000, 200_000, 300_000]
            handle = await c.start_run(RunSpec(profile_toml=gpu_profile, overrides={
                "load.sweep.values": "250,200,150", "load.min_duration_s": "1.5"}))
            deadline = time.monotonic() + 60
            while read_state(state)[0]["limit_mw"] != 200_000:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
    finally:
        a.kill()
    again = start_agent(tmp_path, host_id="gpu-host", data_dir=a.data_dir, extra=("--power-source", "nvml"), env=env)
    try:
        assert read_state(state)[0]["limit_mw"] == 300_000
        async with AgentClient(again.target, token=again.token) as c:
            assert (await c.get_run(handle.run_id)).state == "interrupted"
    finally:
        again.stop()
