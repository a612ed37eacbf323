"""`wattfleet run` end to end: one profile on two real agents, a dead host beside them, records on disk."""

from __future__ import annotations

import asyncio
import json
import queue
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from agents import RunningAgent, start_agent

from wattfleet.core.client import AgentClient

SET = ["--set", "load.min_duration_s=0.2", "--set", "load.min_queries=4"]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[RunningAgent]]]:
    work = tmp_path_factory.mktemp("fleet")
    token = work / "token"
    token.write_text("fleet-test-token-0123456789\n")
    token.chmod(0o600)
    agents: list[RunningAgent] = []
    try:
        for name in ("fleet-a", "fleet-b"):
            agents.append(start_agent(work, host_id=name, extra=("--token-file", str(token))))
        yield token, agents
    finally:
        for a in agents:
            a.stop()


def _dead_target() -> str:
    with socket.socket() as s:  # a port nobody listens on once this closes
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def _wattfleet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wattfleet.core.cli", *args], capture_output=True, text=True,
                          timeout=120)


def test_one_profile_on_two_agents_and_a_dead_host(fleet: tuple[Path, list[RunningAgent]], tmp_path: Path) -> None:
    token, agents = fleet
    dead = _dead_target()
    hosts = ",".join([*(a.target for a in agents), dead])
    out = tmp_path / "records"
    proc = _wattfleet("run", "smoke", "--hosts", hosts, "--token-file", str(token), "--out", str(out),
                      "--label", "batch=nightly", *SET)
    assert proc.returncode == 1, proc.stderr  # the dead host failed; the others did not stop
    records = sorted(out.glob("*.json"))
    assert len(records) == 2
    assert records[0].name.startswith("fleet-a-") and records[1].name.startswith("fleet-b-")
    for path in records:
        record = json.loads(path.read_text())
        assert record["state"] == "completed"
        assert record["run_id"] in path.name
        assert record["queries"], "the record carries the raw per-query timings"
    for a in agents:
        assert f"[{a.target}] measuring" in proc.stderr  # progress per host
    assert f"[{dead}] error: UNAVAILABLE" in proc.stderr
    table = proc.stdout.splitlines()
    assert table[0].split()[:3] == ["host", "state", "tokens_per_s"]
    rows = {line.split()[0]: line for line in table[1:]}
    assert rows.keys() == {"fleet-a", "fleet-b", dead}
    assert rows["fleet-a"].split()[1] == "completed" and "unreachable" in rows[dead]
    # tokens/J is either absent (a window too short for the 5 Hz estimate) or names its domain.
    for host in ("fleet-a", "fleet-b"):
        cell = rows[host]
        assert "tokens/J" not in cell or "tokens/J [estimated]" in cell, cell


def test_summary_table_names_the_energy_domain() -> None:
    from wattfleet.core.wire import Figure
    from wattfleet.tui.fleet.run_cli import HostResult, summary_table

    figures = {
        "tokens_per_s": Figure("tokens_per_s", 1200.0, "tok/s"),
        "tokens_per_j[gpu-board:0]": Figure("tokens_per_j", 3.5, "tokens/J", domain="gpu-board:0"),
    }
    done = HostResult("127.0.0.1:50551", host_id="gpu-host", run_id="r1", state="completed",
                      record_path="r1.json", figures=figures)
    failed = HostResult("127.0.0.1:50552", state="refused", error="UNAVAILABLE: down")
    lines = summary_table([done, failed]).splitlines()
    assert lines[0].split()[:2] == ["host", "state"]
    assert "3.5 tokens/J [gpu-board:0]" in lines[1] and "1200 tok/s" in lines[1]
    assert lines[2].startswith("127.0.0.1:50552") and "UNAVAILABLE: down" in lines[2]


def test_inventory_hosts_with_their_own_tokens_all_complete(
    fleet: tuple[Path, list[RunningAgent]], tmp_path: Path
) -> None:
    token, agents = fleet
    inventory = tmp_path / "fleet.toml"
    inventory.write_text("".join(
        f'[[agents]]\nname = "{a.host_id}"\naddress = "127.0.0.1"\nport = {a.port}\ntoken_file = "{token}"\n\n'
        for a in agents
    ))
    out = tmp_path / "records"
    proc = _wattfleet("run", "smoke", "--inventory", str(inventory), "--out", str(out), "--json", *SET)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert sorted(r["host_id"] for r in rows) == ["fleet-a", "fleet-b"]
    assert all(r["state"] == "completed" and Path(r["record"]).is_file() for r in rows)
    assert all("tpot_p50" in r["figures"] for r in rows)


def test_bad_usage_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = _wattfleet("run", "smoke", "--out", str(tmp_path))
    assert proc.returncode == 2 and "--hosts" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = _wattfleet("run", "smoke", "--hosts", "no-port-here")
    assert proc.returncode == 2 and "host:port" in proc.stderr


def test_discovered_agents_are_selected_by_match_and_all_run(tmp_path: Path) -> None:
    tag = f"disc{uuid.uuid4().hex[:6]}"
    token = tmp_path / "token"
    token.write_text("discover-test-token-0123456789\n")
    token.chmod(0o600)
    agents = []
    try:
        with ThreadPoolExecutor(2) as pool:  # advertising agents take a few seconds each to start
            futures = [pool.submit(start_agent, tmp_path, host_id=f"{tag}-{name}", advertise=True,
                                   interfaces=("127.0.0.1",), extra=("--token-file", str(token)))
                       for name in ("a", "b")]
            outcomes = [f.exception() or f.result() for f in futures]
        agents = [a for a in outcomes if not isinstance(a, BaseException)]  # stopped below even if one failed
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        out = tmp_path / "records"
        proc = _wattfleet("run", "smoke", "--discover", "--interface", "127.0.0.1", "--timeout-s", "3",
                          "--match", f"{tag}-*", "--token-file", str(token), "--out", str(out), "--json", *SET)
        assert proc.returncode == 0, proc.stderr
        rows = json.loads(proc.stdout)
        assert sorted(r["host_id"] for r in rows) == [f"{tag}-a", f"{tag}-b"]
        assert len(list(out.glob(f"{tag}-*.json"))) == 2
    finally:
        for a in agents:
            a.stop()


def test_ctrl_c_cancels_the_runs_it_started(fleet: tuple[Path, list[RunningAgent]], tmp_path: Path) -> None:
    token, agents = fleet
    hosts = ",".join(a.target for a in agents)
    proc = subprocess.Popen(
        [sys.executable, "-m", "wattfleet.core.cli", "run", "smoke", "--hosts", hosts, "--token-file", str(token),
         "--out", str(tmp_path), "--set", "load.min_duration_s=30", "--set", "load.min_queries=100000",
         "--set", "load.max_duration_s=60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr or ()], daemon=True)
    reader.start()
    measuring: set[str] = set()
    seen: list[str] = []
    while len(measuring) < 2:  # both hosts have measured queries
        line = lines.get(timeout=60)
        seen.append(line)
        if " queries " in line:
            measuring.add(line.split("]")[0])
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    reader.join(timeout=10)
    while not lines.empty():
        seen.append(lines.get())
    cancelled = [line for line in seen if "cancelled run" in line]
    assert len(cancelled) == 2, "".join(seen)

    async def states() -> list[str]:
        out = []
        for line in cancelled:  # "[host:port] cancelled run ID"
            target, run_id = line[1:].split("] cancelled run ")
            assert target in {a.target for a in agents}
            async with AgentClient(target, token=token.read_text().strip()) as c:
                run_id = run_id.strip()
                events = [e async for e in c.watch_run(run_id)]
                out.append(events[-1].body.state)  # type: ignore[union-attr]
        return out

    assert asyncio.run(states()) == ["cancelled", "cancelled"]
