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


_ALL_INTERFACES_SCRIPT = """
import asyncio, json, sys
from wattfleet.agent.service.advertise import Advertiser, build_txt
from wattfleet.tui.fleet.discovery import AgentDirectory, ZeroconfBrowser

async def main():
    txt = build_txt(agent_version="1", host_id=sys.argv[1], device_summary="cpu:1", auth_required=True, tls=False)
    ad = Advertiser(host_id=sys.argv[1], port=50551, txt=txt)  # no addresses: every interface
    await ad.start()
    try:
        async with AgentDirectory(ZeroconfBrowser()) as directory:
            [found] = await directory.wait_for(1, 5.0, where=lambda e: e.host_id == sys.argv[1])
    finally:
        await ad.stop()
    print(json.dumps(list(found.addresses)))

asyncio.run(main())
"""


@pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
def test_default_advertises_every_non_loopback_address(run_id: str) -> None:
    with NetnsLab(run_id) as lab:
        hub, host = lab.namespace("hub"), lab.namespace("h")
        lab.bridge(hub, "br0")
        lab.link(host, f"{SUBNET}.21/24", hub, "br0", ifname="eth0")
        lab.link(host, f"{SUBNET}.22/24", hub, "br0", ifname="eth1")
        proc = host.run(sys.executable, "-c", _ALL_INTERFACES_SCRIPT, f"{run_id}-all", check=False)
        assert proc.returncode == 0, proc.stderr
        assert sorted(json.loads(proc.stdout)) == [f"{SUBNET}.21", f"{SUBNET}.22"]
