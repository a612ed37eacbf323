"""The README's first command (`scripts/dev.sh demo`) in a real terminal: tmux runs it, capture-pane reads
the screen. Within a minute the console shows three hosts reporting and a heatmap with its legend; `q`
quits, every agent stops, and the command exits 0."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")


def _tmux(sock: str, *args: str) -> str:
    return subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True, check=False).stdout


def _wait_for(sock: str, cond: object, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    screen = ""
    while time.monotonic() < deadline:
        screen = _tmux(sock, "capture-pane", "-p", "-t", "demo")
        if cond(screen):  # type: ignore[operator]
            return screen
        time.sleep(0.5)
    raise AssertionError(f"not on screen within {timeout_s:g} s; the screen was:\n{screen}")


def test_readme_demo_in_tmux_shows_three_hosts_and_a_heatmap_then_quits(tmp_path: Path) -> None:
    sock = f"wf-{uuid.uuid4().hex[:8]}"
    done = tmp_path / "exit-code"
    command = (f"cd {REPO} && scripts/dev.sh demo --out {tmp_path} --data-dir {tmp_path / 'agents'}; "
               f"echo $? > {done}; sleep 30")
    _tmux(sock, "new-session", "-d", "-s", "demo", "-x", "120", "-y", "36", command)
    try:
        screen = _wait_for(sock, lambda s: "3 of 3 hosts reporting" in s and "higher better:" in s, 60)
        screen = _wait_for(sock, lambda s: re.search(r"\d running", s) is None and s.count("[estimated]") >= 3, 60)
        for host in ("demo-a", "demo-b", "demo-c"):
            assert host in screen
        assert "smoke" in screen and "[estimated]" in screen  # a profile column; numbers say what they are
        assert "~ estimated" in screen  # the legend explains the estimate mark
        _tmux(sock, "send-keys", "-t", "demo", "q")
        deadline = time.monotonic() + 60
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert done.exists(), _tmux(sock, "capture-pane", "-p", "-t", "demo")
        assert done.read_text().strip() == "0"
        after = _tmux(sock, "capture-pane", "-p", "-t", "demo")
        assert "agents stopped (exit 0, 0, 0)" in after
        assert len(list(tmp_path.glob("demo-*.json"))) == 3  # each host's record kept
    finally:
        _tmux(sock, "kill-server")
