"""Wait for an agent process started on this machine: the demo, the tests and the benches share it."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from wattfleet.core.errors import WattfleetError


def wait_ready(
    proc: subprocess.Popen[bytes], ready: Path, *, timeout_s: float, log: Path | None = None, poll_s: float = 0.05
) -> dict[str, Any]:
    """The agent's ready file ({port, pid, host_id, token_file}) once it is SERVING.

    Raises WattfleetError, with the agent's log, when the process exits first or the time runs out
    (the process is killed then, so nothing is left half-started).
    """
    deadline = time.monotonic() + timeout_s
    while not ready.exists():
        if proc.poll() is not None:
            raise WattfleetError(f"the agent exited with {proc.returncode} before serving{_log_tail(log)}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise WattfleetError(f"the agent was not serving within {timeout_s:g} s{_log_tail(log)}")
        time.sleep(poll_s)
    info: dict[str, Any] = json.loads(ready.read_text())
    return info


def _log_tail(log: Path | None) -> str:
    if log is None:
        return ""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return f"; see {log}"
    return f"; its log ({log}) ends:\n{text[-4000:]}"
