"""A real Prometheus server for tests: Debian's `prometheus` binary on loopback, a config the test writes,
storage in a temporary folder. `start_prometheus(workdir, scrape_configs)` returns once it is ready."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents import free_port

PROMETHEUS = shutil.which("prometheus")
SKIP_REASON = ("the `prometheus` server binary is not installed: Debian's `prometheus` package provides it "
               "(scripts/dev.sh setup installs it as root where apt-get exists)")
START_TIMEOUT_S = 30.0


@dataclass
class PromServer:
    url: str
    process: subprocess.Popen[bytes]
    workdir: Path
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def api(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as reply:
            return json.loads(reply.read())


def start_prometheus(
    workdir: Path, scrape_configs: Sequence[dict[str, Any]], *, scrape_interval: str = "1s",
    extra_args: Sequence[str] = (),
) -> PromServer:
    """Start Prometheus with these scrape jobs (JSON is YAML, so the config is written as JSON)."""
    assert PROMETHEUS is not None, SKIP_REASON
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(json.dumps({
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval,
                   "scrape_timeout": scrape_interval},
        "scrape_configs": list(scrape_configs),
    }, indent=2))
    last_error = ""
    for _attempt in range(3):  # a free port can be taken between finding it and binding it
        port = free_port()
        log_path = workdir / f"prometheus-{port}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [PROMETHEUS, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
                 f"--storage.tsdb.path={workdir / 'data'}", "--log.level=warn", *extra_args],
                stdout=log, stderr=subprocess.STDOUT)
        server = PromServer(f"http://127.0.0.1:{port}", proc, workdir, log_path)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as reply:
                    if reply.status == 200:
                        return server
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        server.stop()
        last_error = server.log()[-2000:]
    raise RuntimeError(f"prometheus did not become ready:\n{last_error}")


def wait_until(check: Callable[[], Any], timeout_s: float, what: str, interval_s: float = 0.25) -> Any:
    """Call `check` until it returns something truthy; fail the test with `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what} (last: {last!r})")
