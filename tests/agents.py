"""Start real agents as separate processes for tests: `start_agent(tmp_path, ...)`.

Each agent gets its own data dir and a free port on loopback; the helper waits for the agent's ready
file (written once it is SERVING) and gives back the port and token.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from wattfleet.core.errors import WattfleetError
from wattfleet.core.localagent import wait_ready

START_TIMEOUT_S = 60.0


@dataclass
class RunningAgent:
    host_id: str
    port: int
    token: str  # "" when insecure
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    args: list[str] = field(default_factory=list)
    metrics_port: int = 0  # when started with --metrics-port
    started_unix_ns: int = 0  # when this process was started

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGTERM and wait: a graceful stop. Returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout_s)

    def kill(self) -> None:
        """SIGKILL: a crash, as far as the agent can tell."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=20)


def free_port() -> int:
    """A loopback port free right now (for flags that need a number up front, e.g. --metrics-port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def agent_command(*args: str, python: str | None = None) -> list[str]:
    return [python or sys.executable, "-m", "wattfleet.core.cli", "agent", *args]


def start_agent(
    workdir: Path,
    *,
    host_id: str = "test-agent",
    insecure: bool = False,
    advertise: bool = False,
    interfaces: tuple[str, ...] = ("127.0.0.1",),
    probe: bool = False,
    data_dir: Path | None = None,
    extra: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    wrapper: tuple[str, ...] = (),
    listen: str = "127.0.0.1",
    port: int = 0,
    python: str | None = None,
) -> RunningAgent:
    """Start `wattfleet agent` and wait until it is SERVING. `wrapper` prefixes the command
    (e.g. `ip netns exec NS`)."""
    data_dir = data_dir or workdir / f"agent-{host_id}"
    data_dir.mkdir(parents=True, exist_ok=True)
    ready = data_dir / "ready.json"
    ready.unlink(missing_ok=True)
    args = ["--listen", listen, "--port", str(port), "--host-id", host_id, "--data-dir", str(data_dir),
            "--ready-file", str(ready)]
    if insecure:
        args.append("--insecure")
    if advertise:
        for ip in interfaces:
            args += ["--interface", ip]
    else:
        args.append("--no-advertise")
    if not probe:
        args.append("--no-probe")
    args += list(extra)
    log_path = data_dir / "agent.log"
    started_unix_ns = time.time_ns()
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [*wrapper, *agent_command(*args, python=python)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    try:
        info = wait_ready(proc, ready, timeout_s=START_TIMEOUT_S, log=log_path)
    except WattfleetError as exc:
        raise RuntimeError(f"agent {host_id}: {exc}") from exc
    token = "" if insecure else Path(info["token_file"]).read_text().strip()
    return RunningAgent(host_id, int(info["port"]), token, data_dir, proc, log_path, args,
                        int(info.get("metrics_port", 0) or 0), started_unix_ns)


def scrape_metrics(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Prometheus samples by name from an agent's /metrics on loopback."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return out
