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
    out.mkdir()
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
    assert table[0].split()[:4] == ["host", "state", "validity", "tokens_per_s"]
    rows = {line.split()[0]: line for line in table[1:4]}
    assert rows.keys() == {"fleet-a", "fleet-b", dead}
    assert rows["fleet-a"].split()[1] == "completed" and "unreachable" in rows[dead]
    assert rows[dead].split()[2] == "-"  # no record, nothing to judge
    for path in records:  # the validity cell says what the record says
        valid = json.loads(path.read_text())["validity"]["valid"]
        host = path.name[: len("fleet-a")]
        assert rows[host].split()[2] == ("valid" if valid else "NOT")
    # tokens/J is either absent (a window too short for the 5 Hz estimate) or names its domain.
    for host in ("fleet-a", "fleet-b"):
        cell = rows[host]
        assert "tokens/J" not in cell or "tokens/J [estimated]" in cell, cell


def test_summary_table_shows_domain_validity_and_low_confidence() -> None:
    from wattfleet.core.model import Figure
    from wattfleet.tui.fleet.run_cli import HostResult, summary_table

    figures = {
        "tokens_per_s": Figure("tokens_per_s", 1200.0, "tok/s"),
        "ttft_p99": Figure("ttft_p99", 4.0, "ms", low_confidence=True),
        "tokens_per_j[gpu-board:0]": Figure("tokens_per_j", 3.5, "tokens/J", domain="gpu-board:0"),
    }
    reasons = ("measured 0.2 s, below min_duration_s 10", "63 queries; early stopping at p90 needs 64")
    short = HostResult("127.0.0.1:50551", host_id="gpu-host", run_id="r1", state="completed",
                       record_path="r1.json", figures=figures, headline="gpu-board:0", valid=False, reasons=reasons)
    good = HostResult("127.0.0.1:50553", host_id="edge", run_id="r2", state="completed", record_path="r2.json",
                      figures={"tokens_per_s": Figure("tokens_per_s", 80.0, "tok/s")}, valid=True)
    failed = HostResult("127.0.0.1:50552", state="refused", error="UNAVAILABLE: down")
    lines = summary_table([short, good, failed]).splitlines()
    assert lines[0].split()[:3] == ["host", "state", "validity"]
    assert "3.5 tokens/J [gpu-board:0]" in lines[1] and "1200 tok/s" in lines[1] and "4 ms *" in lines[1]
    assert "NOT VALID [1]" in lines[1] and lines[2].split()[2] == "valid" and lines[3].split()[2] == "-"
    assert lines[3].startswith("127.0.0.1:50552") and "UNAVAILABLE: down" in lines[3]
    assert lines[4] == "[1] gpu-host: measured 0.2 s, below min_duration_s 10 (+1 more in the record)"
    assert lines[5].startswith("* low confidence")


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
    out.mkdir()
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
    dead = _dead_target()  # checked before any host is contacted: no "[host] error" line
    proc = _wattfleet("run", "smoke", "--hosts", dead, "--out", str(tmp_path / "absent"))
    assert proc.returncode == 2 and proc.stderr.strip() == (
        f"wattfleet run: --out {tmp_path / 'absent'}: no such folder; create it (mkdir -p {tmp_path / 'absent'}) "
        "or name an existing one")
    credentials = tmp_path / "creds.toml"
    credentials.write_text('[hosts]\n"edge-7" = "tokens/edge-7"\n')
    proc = _wattfleet("run", "smoke", "--hosts", dead, "--out", str(tmp_path), "--credentials", str(credentials))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert f"credentials {credentials}: hosts.edge-7: token file {tmp_path / 'tokens' / 'edge-7'} does not exist" in (
        proc.stderr)


def test_agents_with_their_own_tokens_run_together_through_a_credentials_file(tmp_path: Path) -> None:
    """Discovered (matched by host id) and listed (matched by address): each agent generated its own token."""
    tag = f"disc{uuid.uuid4().hex[:6]}"
    agents = []
    try:
        with ThreadPoolExecutor(2) as pool:  # advertising agents take a few seconds each to start
            futures = [pool.submit(start_agent, tmp_path, host_id=f"{tag}-{name}", advertise=True,
                                   interfaces=("127.0.0.1",))
                       for name in ("a", "b")]
            outcomes = [f.exception() or f.result() for f in futures]
        agents = [a for a in outcomes if not isinstance(a, BaseException)]  # stopped below even if one failed
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        a, b = agents
        assert a.token != b.token
        (tmp_path / "tokens").mkdir()
        for agent in agents:  # copied where the operator keeps them, relative to the credentials file
            (tmp_path / "tokens" / agent.host_id).write_text(agent.token + "\n")
        credentials = tmp_path / "fleet-credentials.toml"
        credentials.write_text(f'[hosts]\n"{a.host_id}" = "tokens/{a.host_id}"\n'
                               f'"{b.host_id}" = {{ token_file = "tokens/{b.host_id}" }}\n')
        out = tmp_path / "records"
        out.mkdir()
        proc = _wattfleet("run", "smoke", "--discover", "--interface", "127.0.0.1", "--timeout-s", "3",
                          "--match", f"{tag}-*", "--credentials", str(credentials), "--out", str(out), "--json",
                          *SET)
        assert proc.returncode == 0, proc.stderr
        rows = json.loads(proc.stdout)
        assert sorted(r["host_id"] for r in rows) == [f"{tag}-a", f"{tag}-b"]
        assert len(list(out.glob(f"{tag}-*.json"))) == 2

        by_address = tmp_path / "by-address.toml"
        by_address.write_text("[hosts]\n" + "".join(f'"127.0.0.1:{x.port}" = "tokens/{x.host_id}"\n' for x in agents))
        proc = _wattfleet("run", "smoke", "--hosts", f"{a.target},{b.target}", "--credentials", str(by_address),
                          "--out", str(out), "--json", *SET)
        assert proc.returncode == 0, proc.stderr
        assert sorted(r["host_id"] for r in json.loads(proc.stdout)) == [f"{tag}-a", f"{tag}-b"]
        assert len(list(out.glob(f"{tag}-*.json"))) == 4
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
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
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
