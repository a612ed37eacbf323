"""The audit on records from real agent runs: three agents on loopback, one short sweep through
`wattfleet run --out`, then `wattfleet audit` on that folder, checked against values computed here from
the record files themselves.

  aud-a  rack r1, a replayed cpu-package trace of a constant 40 W
  aud-b  rack r2, a replayed cpu-package trace of a constant 70 W
  aud-c  rack r2, only the estimate (CPU utilisation x a 35 W TDP): counted apart, never in the budget
Profile: decoder-tiny on CPU, a concurrency sweep over 1 and 2, 0.4 s per level.
Budget: fleet 100 W, rack r1 50 W, rack r2 80 W (cpu-package): a and b fit their racks but not both the fleet.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agents import RunningAgent, start_agent
from traces import Track, constant, write_power_trace

from wattfleet.core.cli import main
from wattfleet.core.client import AgentClient
from wattfleet.tui.fleet.audit import AuditOptions, load_runs, run_audit
from wattfleet.tui.fleet.audit.records import runs_from_records

pytest.importorskip("onnxruntime", reason="the agents' runs need the agent extra (ONNX Runtime)")

TRACE_W = {"aud-a": 40.0, "aud-b": 70.0}
RACKS = {"aud-a": "r1", "aud-b": "r2", "aud-c": "r2"}
FLEET_W, R1_W, R2_W = 100.0, 50.0, 80.0
PROFILE = """name = "audit-sweep"
description = "decoder-tiny, concurrency 1 and 2, a fraction of a second each"
[model]
builtin = "decoder-tiny"
[runtime]
provider = "cpu"
intra_op_threads = 1
[load]
scenario = "sweep"
prompt_tokens = 8
output_tokens = 8
warmup_queries = 1
min_duration_s = 0.4
min_queries = 4
max_duration_s = 2.0
target_latency_percentile = 0.0
[load.sweep]
over = "concurrency"
values = [1, 2]
"""


def _trace(path: Path, watts: float) -> Path:
    return write_power_trace(path, [Track("rapl", "cpu-package", constant(watts))])


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[RunningAgent], Path]]:
    """Start the three agents, run the sweep on all of them; yields (records folder, agents, work folder)."""
    work = tmp_path_factory.mktemp("audit-fleet")
    token = work / "token"
    token.write_text("audit-fleet-token-0123456789\n")
    token.chmod(0o600)
    agents: list[RunningAgent] = []
    try:
        for host, rack in RACKS.items():
            power = (f"replay-loop:{_trace(work / f'{host}.csv', TRACE_W[host])}" if host in TRACE_W
                     else "estimated:tdp_w=35")
            agents.append(start_agent(work, host_id=host, extra=("--token-file", str(token), "--power-source", power,
                                                                 "--label", f"rack={rack}")))
        profile = work / "audit-sweep.toml"
        profile.write_text(PROFILE)
        out = work / "records"
        out.mkdir()
        proc = subprocess.run([sys.executable, "-m", "wattfleet.core.cli", "run", str(profile), "--hosts",
                               ",".join(a.target for a in agents), "--token-file", str(token), "--out", str(out)],
                              capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, proc.stderr[-3000:]
        yield out, agents, work
    finally:
        for a in agents:
            a.stop()


def _records(folder: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(folder.glob("*.json")):
        d = json.loads(path.read_text())
        out[d["host_id"]] = d
    return out


def _level_power(level: dict[str, Any]) -> float:
    """The headline domain's average power of one sweep level, as its record states it."""
    return float(next(e["power_avg_w"] for e in level["energy"] if e["domain"] == level["headline_domain"]))


def _level_tokens(level: dict[str, Any]) -> float:
    return float(next(f["value"] for f in level["figures"] if f["name"] == "tokens_per_s"))


def _mean_power(record: dict[str, Any]) -> float:
    """Duration-weighted mean of the levels' power (each level is one measured window)."""
    levels = record["sweep"]
    return sum(_level_power(s) * s["window"]["duration_s"] for s in levels) / sum(
        s["window"]["duration_s"] for s in levels)


def test_where_the_watts_go_from_real_records(fleet: tuple[Path, list[RunningAgent], Path]) -> None:
    out, _, work = fleet
    recs = _records(out)
    assert set(recs) == set(RACKS) and all(r["schema_version"] == 2 for r in recs.values())
    budget = work / "budget.toml"
    budget.write_text(f"fleet_w = {FLEET_W}\n[group.rack.r1]\nbudget_w = {R1_W}\n[group.rack.r2]\nbudget_w = {R2_W}\n")
    report_path = work / "audit.json"
    assert main(["audit", "--records", str(out), "--budget", str(budget), "--format", "json",
                 "--out", str(report_path)]) == 0
    doc = json.loads(report_path.read_text())
    assert doc["rejected"] == [] and doc["n_runs"] == 3
    power = {(p["host"], p["key"]): p for p in doc["host_power"]}
    for host in TRACE_W:
        hp = power[(host, "cpu-package")]
        assert hp["n_runs"] == len(recs[host]["sweep"]) == 2  # each level of the sweep is a window
        assert hp["avg_w"] == pytest.approx(_mean_power(recs[host]), rel=1e-9)
        assert hp["avg_w"] == pytest.approx(TRACE_W[host], rel=1e-3)  # the replayed trace's constant
    est = power[("aud-c", "estimated")]
    assert est["avg_w"] == pytest.approx(_mean_power(recs["aud-c"]), rel=1e-9)

    lines = {b["name"]: b for b in doc["budget"]["lines"]}
    assert doc["budget"]["domain"] == "cpu-package"
    fleet_w = _mean_power(recs["aud-a"]) + _mean_power(recs["aud-b"])
    assert lines["fleet"]["avg_w"] == pytest.approx(fleet_w, rel=1e-9)
    assert lines["fleet"]["headroom_w"] == pytest.approx(FLEET_W - fleet_w, rel=1e-9)
    assert lines["fleet"]["status"] == "over" and lines["fleet"]["estimated_hosts"] == ["aud-c"]
    assert lines["fleet"]["estimated_w"] == pytest.approx(est["avg_w"])
    assert lines["rack=r1"]["hosts"] == ["aud-a"] and lines["rack=r2"]["hosts"] == ["aud-b"]
    assert lines["rack=r2"]["headroom_w"] == pytest.approx(R2_W - _mean_power(recs["aud-b"]), rel=1e-9)

    # The optimiser against every combination, from the records' own sweep levels (valid ones only).
    options: dict[str, list[tuple[str, float, float]]] = {}
    for host in TRACE_W:
        options[host] = [(f"concurrency={s['profile']['load']['concurrency']}", _level_tokens(s), _level_power(s))
                         for s in recs[host]["sweep"] if s["validity"]["valid"]]
    best = (0.0, ())
    for combo in itertools.product(*[[None, *options[h]] for h in TRACE_W]):
        chosen = dict(zip(TRACE_W, combo, strict=True))
        watts = {h: c[2] if c else 0.0 for h, c in chosen.items()}
        if sum(watts.values()) <= FLEET_W and watts["aud-a"] <= R1_W and watts["aud-b"] <= R2_W:
            tokens = sum(c[1] for c in chosen.values() if c)
            best = max(best, (tokens, tuple((h, c[0] if c else "off") for h, c in chosen.items())))
    (alloc,) = doc["allocations"]
    assert alloc["tokens_per_s"] == pytest.approx(best[0], rel=1e-9)
    assert tuple((c["host"], c["setting"]) for c in alloc["choices"]) == best[1]
    not_used = {(p["host"], p["setting"]): p["reason"] for p in doc["points_not_used"]}
    assert not_used[("aud-c", "concurrency=1")] == "no cpu-package power figure (has estimated)"


async def test_records_a_client_fetches_audit_as_the_files_do(fleet: tuple[Path, list[RunningAgent], Path]) -> None:
    out, agents, _ = fleet
    recs = _records(out)
    token = (out.parent / "token").read_text().strip()
    fetched = []
    for a in agents:
        async with AgentClient(a.target, token=token) as client:
            fetched.append(await asyncio.wait_for(client.get_run_record(recs[a.host_id]["run_id"]), 60))
    live = {r.host: r for r in runs_from_records(fetched, "agent").runs}
    files = {r.host: r for r in load_runs([out]).runs}
    assert set(live) == set(files) == set(RACKS)
    for host, run in files.items():
        other = live[host]
        assert [(s.setting, s.tokens_per_s, s.headline) for s in other.levels] == [
            (s.setting, s.tokens_per_s, s.headline) for s in run.levels]
        assert (other.labels, other.headline_domain, other.env) == (run.labels, run.headline_domain, run.env)
    live_report = run_audit(runs_from_records(fetched, "agent"), AuditOptions())
    file_report = run_audit(load_runs([out]), AuditOptions())
    assert live_report.power == file_report.power and live_report.efficiency == file_report.efficiency
