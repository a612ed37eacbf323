"""tests/netns.py cleans up after itself, even when the test inside fails."""

from __future__ import annotations

import subprocess

import pytest
from netns import NetnsLab, unavailable_reason

pytestmark = [pytest.mark.netns, pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))]


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_lab_ends_processes_and_deletes_namespaces_on_failure(run_id: str) -> None:
    with pytest.raises(RuntimeError, match="test body failed"), NetnsLab(run_id) as lab:
        a, hub = lab.namespace("a"), lab.namespace("hub")
        lab.bridge(hub)
        lab.link(a, "10.213.9.1/24", hub)
        assert "10.213.9.1/24" in a.run("ip", "-o", "addr", "show", "eth0").stdout
        tracked = a.popen(["sleep", "300"])
        stray = subprocess.Popen([*hub.prefix(), "sleep", "300"])  # not tracked: found by `ip netns pids`
        names = {a.name, hub.name}
        assert names <= _namespaces()
        raise RuntimeError("test body failed")
    assert tracked.wait(timeout=10) is not None
    assert stray.wait(timeout=10) is not None
    assert not names & _namespaces()
