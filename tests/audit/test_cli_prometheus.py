"""`wattfleet audit --prometheus` flags without a server: a bad range, URL or job, or a range without a server,
exit 2 in one line before anything is asked; a server that is not there exits 1 in one line. (Against a
real Prometheus: tests/prometheus/test_prom_audit_cli.py.)"""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest


def _audit(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wattfleet.core.cli", "audit", *argv], capture_output=True,
                          text=True, timeout=60)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(("argv", "needle"), [
    (["--prometheus", "http://127.0.0.1:9", "--range", "24x"], "--range '24x': expected a duration such as 30m"),
    (["--prometheus", "http://127.0.0.1:9", "--range=0h"], "--range '0h': expected a duration"),
    (["--prometheus", "prometheus:9090"], "--prometheus 'prometheus:9090': expected the server's URL"),
    (["--prometheus", "http://127.0.0.1:9", "--prometheus-job", " "], "--prometheus-job must name"),
    (["--range", "24h"], "--range needs --prometheus URL"),
])
def test_bad_flags_exit_2_in_one_line(argv: list[str], needle: str) -> None:
    result = _audit(*argv)
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr and result.stderr.count("\n") == 1 and result.stdout == ""


def test_prometheus_not_there_exits_1_in_one_line() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    result = _audit("--prometheus", url, "--range", "1h")
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"wattfleet audit: {url}") and result.stderr.count("\n") == 1
    assert result.stdout == ""
