"""`wattfleet agent` on bad input: one line that says what and what to do, a non-zero exit, nothing held."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from agents import agent_command, start_agent

from wattfleet.core.client import AgentClient


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(agent_command(*args), capture_output=True, text=True, timeout=timeout)


# gRPC C-core's own log format ("E1130 04:28:20.370826   12062 add_port.cc:83] ...") and absl's preamble
C_CORE_LINE = re.compile(
    r"^[EWID]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S+:\d+\]|absl::InitializeLog|ev_poll_posix|fork\(\) handlers",
    re.MULTILINE,
)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def test_unknown_flag_is_one_line_and_exit_2() -> None:
    result = _run("--no-such-flag")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "--no-such-flag" in result.stderr and "--help" in result.stderr


def test_help_explains_security_and_discovery() -> None:
    result = _run("--help")
    assert result.returncode == 0
    for needle in ("--token-file", "--insecure", "--tls-client-ca", "zeroconf", "--port"):
        assert needle in result.stdout


def test_port_in_use_fails_cleanly_and_the_holder_keeps_serving(tmp_path: Path) -> None:
    holder = start_agent(tmp_path, host_id="holder")
    try:
        result = _run("--listen", "127.0.0.1", "--port", str(holder.port), "--data-dir", str(tmp_path / "second"),
                      "--no-advertise", "--no-probe")
        assert result.returncode == 2, result.stderr
        message = _last_line(result.stderr)
        assert f"127.0.0.1:{holder.port}" in message and "--port" in message
        assert not (tmp_path / "second" / "token").exists()  # the token this failed start generated is gone
        assert "generated and stored" in result.stderr and "removed" in result.stderr
        assert not C_CORE_LINE.search(result.stderr), result.stderr  # C-core used to log the bind failure

        async def still_serving() -> str:
            async with AgentClient(holder.target, token=holder.token) as client:
                return (await client.get_info()).host_id

        assert asyncio.run(still_serving()) == "holder"
    finally:
        assert holder.stop() == 0


def test_unreadable_token_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "token"
    result = _run("--port", "0", "--token-file", str(missing), "--data-dir", str(tmp_path), "--no-advertise")
    assert result.returncode == 2
    assert f"cannot read token file {missing}" in _last_line(result.stderr)


def test_empty_token_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "token"
    empty.write_text("\n")
    result = _run("--port", "0", "--token-file", str(empty), "--data-dir", str(tmp_path), "--no-advertise")
    assert result.returncode == 2
    assert "is empty" in _last_line(result.stderr)


def test_unreadable_cert_file_is_a_clear_error(tmp_path: Path) -> None:
    result = _run("--port", "0", "--data-dir", str(tmp_path), "--no-advertise",
                  "--tls-cert", str(tmp_path / "missing.pem"), "--tls-key", str(tmp_path / "missing.key"))
    assert result.returncode == 2
    assert not (tmp_path / "token").exists()  # generated, then removed: the agent never served
    assert "cannot read --tls-key" in _last_line(result.stderr) or "cannot read --tls-cert" in _last_line(
        result.stderr
    )


def test_half_tls_config_is_refused(tmp_path: Path) -> None:
    result = _run("--port", "0", "--data-dir", str(tmp_path), "--tls-cert", str(tmp_path / "c.pem"))
    assert result.returncode == 2
    assert "--tls-cert and --tls-key" in _last_line(result.stderr)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_gracefully_with_exit_0(tmp_path: Path, sig: signal.Signals) -> None:
    agent = start_agent(tmp_path, host_id=f"sig-{sig.name.lower()}")
    agent.process.send_signal(sig)
    assert agent.process.wait(timeout=30) == 0
    log = agent.log()
    assert "stopped" in log
    assert not C_CORE_LINE.search(log), log  # the agent's shutdown logs nothing from gRPC's C core
    assert not (agent.data_dir / "ready.json").exists()
    # The port is free again: a new agent can take it.
    again = start_agent(tmp_path, host_id="again", port=agent.port, data_dir=tmp_path / "again")
    try:
        assert again.port == agent.port
    finally:
        again.stop()


def test_cli_without_a_command_prints_help() -> None:
    result = subprocess.run([sys.executable, "-m", "wattfleet.core.cli"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "agent" in result.stdout and "bench" in result.stdout
