"""/metrics of a real agent, checked by Prometheus's own linter before, during and after runs, and
counters that add up: the tokens and queries counters rise by exactly what the run record holds."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agents import RunningAgent, free_port, start_agent
from prometheus_client.parser import text_string_to_metric_families
from traces import Track, constant, write_power_trace

from wattfleet.core.client import AgentClient
from wattfleet.core.model import PhaseChange, RunRecord, RunSpec, TokenBatch

PROMTOOL = shutil.which("promtool")
RUN = {"load.min_duration_s": "1.0", "load.min_queries": "4", "load.max_duration_s": "10"}


def _trace(path: Path) -> Path:
    """1 s at 100 Hz, looped: a GPU with an energy counter, a CPU with power only."""
    return write_power_trace(path, [Track("nvml", "gpu-board:0", constant(200.0), lambda i: 2.0 * i),
                                    Track("rapl", "cpu-package", constant(40.0))])



@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAgent]:
    work = tmp_path_factory.mktemp("promtool-agent")
    port = free_port()
    a = start_agent(work, host_id="prom-agent", extra=(
        "--power-source", f"replay-loop:{_trace(work / 'trace.csv')}", "--telemetry-rate-hz", "50",
        "--metrics-port", str(port)))
    a.metrics_port = port  # type: ignore[attr-defined]
    try:
        yield a
    finally:
        a.stop()


def _text(agent: RunningAgent) -> str:
    port: int = agent.metrics_port  # type: ignore[attr-defined]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        return str(reply.read().decode())


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def _value(samples: dict[str, list[tuple[dict[str, str], float]]], name: str) -> float:
    ((_labels, value),) = samples[name]
    return value


def _lint(text: str, when: str) -> None:
    if PROMTOOL is None:
        return
    proc = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, f"promtool {when}:\n{proc.stdout}{proc.stderr}"


def _queries_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The record's per-query timings."""
    return list(record["queries"])


async def _run_and_scrape_mid(agent: RunningAgent) -> tuple[str, int, dict[str, Any]]:
    """Run smoke; scrape once tokens flow in the measured phase. Returns (mid text, tokens seen by
    then in the run's events, the record)."""
    async with AgentClient(agent.target, token=agent.token) as c:
        handle = await c.start_run(RunSpec(profile="smoke", overrides=RUN))
        mid, seen, measuring = "", 0, False
        summary: RunRecord | None = None
        async for event in c.watch_run(handle.run_id):
            body = event.body
            if isinstance(body, PhaseChange) and body.state == "measuring":
                measuring = True
            elif isinstance(body, TokenBatch):
                seen += len(body.t_ns)
                if measuring and not mid and seen >= 40:
                    mid_seen = seen
                    mid = await asyncio.to_thread(_text, agent)
            elif isinstance(body, RunRecord):
                summary = body
        assert summary is not None and summary.state == "completed", summary
        assert mid, "no scrape happened while the run was measuring"
        return mid, mid_seen, json.loads(await c.get_run_record_json(handle.run_id))


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed: Debian's `prometheus` package provides it "
                    "(scripts/dev.sh setup installs it as root where apt-get exists)")
async def test_promtool_passes_before_during_and_after_runs(agent: RunningAgent) -> None:
    before_text = await asyncio.to_thread(_text, agent)
    _lint(before_text, "before any run")
    mid_text, _seen, _record = await _run_and_scrape_mid(agent)
    _lint(mid_text, "during a run")
    after_text = await asyncio.to_thread(_text, agent)
    _lint(after_text, "after a run")
    after = _samples(after_text)
    assert {lab["state"] for lab, _ in after["wattfleet_runs_ended_total"]} >= {"completed", "interrupted"}
    assert any(lab["percentile"] == "99" and lab["metric"] == "ttft"
               for lab, _ in after["wattfleet_last_run_latency_seconds"])

    await _run_and_scrape_mid(agent)  # a second run replaces the last-run series instead of adding some
    again = await asyncio.to_thread(_text, agent)
    _lint(again, "after a second run")
    series = {name: sorted(str(sorted(lab.items())) for lab, _ in rows) for name, rows in _samples(again).items()
              if name.startswith("wattfleet_last_run_") and name != "wattfleet_last_run_info"}
    assert series == {name: sorted(str(sorted(lab.items())) for lab, _ in rows) for name, rows in after.items()
                      if name.startswith("wattfleet_last_run_") and name != "wattfleet_last_run_info"}
    assert len(_samples(again)["wattfleet_last_run_info"]) == 1


async def test_token_and_query_counters_add_up_over_a_run(agent: RunningAgent) -> None:
    before = _samples(await asyncio.to_thread(_text, agent))
    mid_text, mid_seen, record = await _run_and_scrape_mid(agent)
    mid = _samples(mid_text)
    after = _samples(await asyncio.to_thread(_text, agent))
    queries = _queries_of(record)
    tokens_in_record = sum(int(q["n_out"]) for q in queries)
    tokens = _value(after, "wattfleet_output_tokens_total") - _value(before, "wattfleet_output_tokens_total")
    assert tokens == tokens_in_record > 0
    count = _value(after, "wattfleet_queries_total") - _value(before, "wattfleet_queries_total")
    assert count == len(queries)
    # counted as produced: mid-run, the counter already holds every token the run's events had shown
    mid_tokens = _value(mid, "wattfleet_output_tokens_total") - _value(before, "wattfleet_output_tokens_total")
    assert mid_seen <= mid_tokens < tokens
    energy = {lab["domain"]: (lab["domain_kind"], v) for lab, v in after["wattfleet_energy_joules_total"]}
    energy_before = {lab["domain"]: v for lab, v in before["wattfleet_energy_joules_total"]}
    assert energy["gpu-board:0"][0] == "gpu-board" and energy["cpu-package"][0] == "cpu-package"
    assert energy["cpu-package"][1] > energy_before["cpu-package"]  # the integral of power, rising
    kinds = {(lab["domain"], lab["domain_kind"]) for lab, _ in after["wattfleet_power_watts"]}
    assert kinds == {("gpu-board:0", "gpu-board"), ("cpu-package", "cpu-package")}
    assert all("run_id" not in lab for name, rows in after.items() if name != "wattfleet_last_run_info"
               for lab, _ in rows)
