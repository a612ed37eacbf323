"""One small real fleet for the Prometheus tests, shared by the session (conftest.py's `fleet`): two agents
on loopback (one found over zeroconf, one from an inventory, plus an inventory entry whose agent is down),
`wattfleet sd` keeping a file_sd file and serving http_sd, and a real Prometheus scraping both four times a
second. A short run on each agent makes tokens flow before the tests query anything."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents import RunningAgent, free_port, scrape_metrics, start_agent
from promserver import PromServer, start_prometheus, wait_until
from traces import Track, constant, write_power_trace

from wattfleet.core.client import AgentClient
from wattfleet.core.model import RunSpec
from wattfleet.tui.fleet.promql import PromClient

RUN = {"load.min_duration_s": "1.0", "load.min_queries": "4", "load.max_duration_s": "10"}
GPU_W, CPU_W, TDP_W = 200.0, 40.0, 100.0
SCRAPE = "250ms"


@dataclass
class Fleet:
    prom: PromServer
    gpu: RunningAgent  # replayed GPU board at GPU_W and CPU package at CPU_W; found over zeroconf
    cpu: RunningAgent  # estimated CPU power (TDP_W); found in the inventory
    dead_host: str  # an inventory entry whose agent is not running
    file_sd: Path
    http_sd_url: str
    sd: subprocess.Popen[bytes]
    sd_log: Path
    started_unix_s: float
    tokens: dict[str, int]  # host id -> output tokens of its run record
    workdir: Path

    @property
    def client(self) -> PromClient:
        return PromClient(self.prom.url, timeout_s=10)

    def sd_text(self) -> str:
        return self.sd_log.read_text(errors="replace")


def trace(path: Path) -> Path:
    """1 s at 100 Hz, looped by the agent: a GPU with an energy counter at GPU_W, a CPU package at CPU_W."""
    return write_power_trace(path, [Track("nvml", "gpu-board:0", constant(GPU_W), lambda i: GPU_W * i / 100),
                                    Track("rapl", "cpu-package", constant(CPU_W))])


def sd_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "wattfleet.core.cli", "sd", *args]


def read_targets(path: Path) -> list[dict[str, Any]]:
    try:
        return list(json.loads(path.read_text()))
    except (FileNotFoundError, ValueError):
        return []


def up_hosts(client: PromClient, job: str) -> dict[str, float]:
    return {s.labels.get("host_id", ""): s.value for s in client.query(f'up{{job="{job}"}}')}


async def _run_smoke(agent: RunningAgent) -> int:
    async with AgentClient(agent.target, token=agent.token) as c:
        handle = await c.start_run(RunSpec(profile="smoke", overrides=RUN))
        async for _event in c.watch_run(handle.run_id):
            pass
        record = json.loads(await c.get_run_record_json(handle.run_id))
    assert record["state"] == "completed", record.get("state")
    return sum(int(q["n_out"]) for q in record["queries"])


async def _run_both(gpu: RunningAgent, cpu: RunningAgent) -> tuple[int, int]:
    a, b = await asyncio.gather(_run_smoke(gpu), _run_smoke(cpu))
    return a, b


def run_fleet(work: Path) -> Iterator[Fleet]:
    """Start the fleet in `work`, yield it, stop everything (conftest.py's `fleet` fixture)."""
    uid = uuid.uuid4().hex[:6]
    started = time.time()
    gpu = start_agent(work, host_id=f"pe2e-{uid}-gpu", advertise=True, extra=(
        "--power-source", f"replay-loop:{trace(work / 'trace.csv')}", "--telemetry-rate-hz", "50",
        "--metrics-port", "0", "--label", "site=lab-a", "--label", "rack=r1", "--label", "owner.team=inference"))
    agents = [gpu]
    sd = None
    prom = None
    try:
        cpu = start_agent(work, host_id=f"pe2e-{uid}-cpu", extra=(
            "--power-source", f"estimated:tdp_w={TDP_W:g}", "--telemetry-rate-hz", "20", "--metrics-port", "0",
            "--label", "site=lab-b", "--label", "rack=r2"))
        agents.append(cpu)
        dead = f"pe2e-{uid}-dead"
        (work / "inventory.toml").write_text(
            f'[[agents]]\nname = "{cpu.host_id}"\naddress = "127.0.0.1"\nport = {cpu.port}\n'
            f'metrics_port = {cpu.metrics_port}\ntoken_file = "{cpu.data_dir / "token"}"\n'
            f'labels = {{ rack = "r2-inventory", room = "b12" }}\n\n'
            f'[[agents]]\nname = "{dead}"\naddress = "127.0.0.1"\nport = {free_port()}\n'
            f'metrics_port = {free_port()}\nlabels = {{ site = "lab-c" }}\n')
        (work / "credentials.toml").write_text(f'[hosts]\n"{gpu.host_id}" = "{gpu.data_dir / "token"}"\n')
        file_sd = work / "targets.json"
        http_port = free_port()
        sd_log = work / "sd.log"
        with open(sd_log, "wb") as log:
            sd = subprocess.Popen(sd_command(
                "--file-sd", str(file_sd), "--http-sd", f"127.0.0.1:{http_port}", "--inventory",
                str(work / "inventory.toml"), "--credentials", str(work / "credentials.toml"),
                "--interface", "127.0.0.1", "--interval-s", "1", "--browse-s", "1.5"), stdout=log, stderr=log)
        wait_until(lambda: len(read_targets(file_sd)) == 3 or sd.poll() is not None, 40, "sd to list 3 targets")
        assert sd.poll() is None, sd_log.read_text()
        http_url = f"http://127.0.0.1:{http_port}/targets"
        # 4 scrapes a second: ranges of a few seconds then hold enough samples that increase()'s
        # extrapolation at the range's edges (up to about one interval) stays a few percent
        common = {"honor_labels": True, "scrape_interval": SCRAPE, "scrape_timeout": SCRAPE}
        prom = start_prometheus(work / "prometheus", [
            {"job_name": "wattfleet", **common,
             "file_sd_configs": [{"files": [str(file_sd)], "refresh_interval": "1s"}]},
            {"job_name": "wattfleet-http", **common,
             "http_sd_configs": [{"url": http_url, "refresh_interval": "1s"}]},
        ], scrape_interval=SCRAPE)
        client = PromClient(prom.url, timeout_s=10)
        for job in ("wattfleet", "wattfleet-http"):
            wait_until(lambda job=job: sorted(h for h, v in up_hosts(client, job).items() if v == 1.0)
                       == sorted([gpu.host_id, cpu.host_id]), 30, f"Prometheus to scrape both agents ({job})")
        time.sleep(2.5)  # a couple of idle scrapes first, so the range starts before any token
        tokens = dict(zip((gpu.host_id, cpu.host_id), asyncio.run(_run_both(gpu, cpu)), strict=True))

        def scraped_all() -> bool:
            for agent in (gpu, cpu):
                (own,) = [v for _, v in scrape_metrics(agent.metrics_port)["wattfleet_output_tokens_total"]]
                got = client.query(f'wattfleet_output_tokens_total{{job="wattfleet",host_id="{agent.host_id}"}}')
                if [s.value for s in got] != [own]:
                    return False
            return True

        wait_until(scraped_all, 20, "Prometheus to scrape the final token counters")
        time.sleep(1.5)  # and one more scrape, so the ranges end after the runs
        yield Fleet(prom, gpu, cpu, dead, file_sd, http_url, sd, sd_log, started, tokens, work)
    finally:
        if prom is not None:
            prom.stop()
        if sd is not None and sd.poll() is None:
            os.kill(sd.pid, signal.SIGTERM)
            sd.wait(timeout=15)
        for agent in agents:
            agent.stop()


def http_get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return reply.status, reply.headers.get("Content-Type", ""), reply.read()
