"""Agents in two network namespaces joined by veth pairs and a bridge, discovered from a third one with
`wattfleet discover --json`. Private addresses exist only inside the namespaces this test makes."""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from agents import RunningAgent, start_agent
from netns import NetnsLab, unavailable_reason

pytestmark = pytest.mark.netns

SUBNET = "10.213.0"
PORT = 50551


@pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
def test_agents_in_two_namespaces_found_from_a_third(tmp_path: Path, run_id: str) -> None:
    with NetnsLab(run_id) as lab:
        hub = lab.namespace("hub")
        lab.bridge(hub, "br0")
        spaces = {role: lab.namespace(role) for role in ("a", "b", "console")}
        addresses = {"a": f"{SUBNET}.1", "b": f"{SUBNET}.2", "console": f"{SUBNET}.3"}
        for role, ns in spaces.items():
            lab.link(ns, f"{addresses[role]}/24", hub, "br0")

        agents: list[RunningAgent] = []
        try:
            with ThreadPoolExecutor(2) as pool:  # start both at once; each call waits for SERVING
                futures = [
                    pool.submit(
                        start_agent, tmp_path, host_id=f"{run_id}-{role}", insecure=True, advertise=True,
                        interfaces=(addresses[role],), listen=addresses[role], port=PORT,
                        wrapper=spaces[role].prefix(),
                    )
                    for role in ("a", "b")
                ]
            # A failed start raises here; an agent that did start is still stopped by the lab.
            agents.extend(f.result() for f in futures)
            console = spaces["console"]
            proc = console.run(
                sys.executable, "-m", "wattfleet.core.cli", "discover", "--json",
                "--interface", addresses["console"], "--timeout-s", "3", check=False,
            )
            assert proc.returncode == 0, proc.stderr
            found = {row["host_id"]: row for row in json.loads(proc.stdout)}
            assert set(found) == {f"{run_id}-a", f"{run_id}-b"}, proc.stdout
            for role in ("a", "b"):
                row = found[f"{run_id}-{role}"]
                assert row["addresses"] == [addresses[role]]
                assert row["target"] == f"{addresses[role]}:{PORT}"
                assert row["auth_required"] is False and row["source"] == "mdns"
        finally:
            for agent in agents:
                agent.stop()
