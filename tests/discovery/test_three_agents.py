"""Three real agents as separate processes on loopback: found through zeroconf, GetInfo with and
without their tokens, and gone soon after a graceful stop (the issue's acceptance test)."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import pytest
from agents import RunningAgent, start_agent

from wattfleet.core.client import AgentClient, AgentError
from wattfleet.tui.fleet.discovery import AgentDirectory, ZeroconfBrowser

from .conftest import LOOPBACK

FIND_WITHIN_S = 3.0
VANISH_WITHIN_S = 5.0


async def test_three_agents_found_queried_and_gone_after_stop(tmp_path: Path, run_id: str) -> None:
    ids = [f"{run_id}-agent{i}" for i in range(3)]
    agents: list[RunningAgent] = []
    try:
        # start_agent returns once its agent is SERVING (and so advertised); start all three at once.
        started = await asyncio.gather(
            *(asyncio.to_thread(start_agent, tmp_path, host_id=h, advertise=True, interfaces=(LOOPBACK,)) for h in ids),
            return_exceptions=True,
        )
        agents = [a for a in started if isinstance(a, RunningAgent)]
        for outcome in started:
            if isinstance(outcome, BaseException):
                raise outcome
        by_id = {a.host_id: a for a in agents}

        async with AgentDirectory(ZeroconfBrowser([LOOPBACK])) as directory:
            found = await directory.wait_for(3, FIND_WITHIN_S, where=lambda e: e.host_id in by_id)
            assert sorted(e.host_id for e in found) == sorted(ids)
            for endpoint in found:
                agent = by_id[endpoint.host_id]
                assert endpoint.target == f"{LOOPBACK}:{agent.port}"
                assert endpoint.auth_required and not endpoint.tls and endpoint.agent_version

                async with AgentClient(endpoint.target, token=agent.token) as client:
                    info = await client.get_info()
                assert info.host_id == agent.host_id and info.auth_required

                for token in (None, "not-the-token"):
                    async with AgentClient(endpoint.target, token=token) as client:
                        with pytest.raises(AgentError) as denied:
                            await client.get_info()
                    assert denied.value.code == "UNAUTHENTICATED"

            # The same agents through an inventory, each with its own token file, via `discover --info`.
            inventory = tmp_path / "fleet.toml"
            entries = []
            for agent in agents:
                (tmp_path / f"{agent.host_id}.token").write_text(agent.token + "\n")
                entries.append(f'[[agents]]\nname = "{agent.host_id}"\naddress = "{LOOPBACK}"\n'
                               f'port = {agent.port}\ntoken_file = "{agent.host_id}.token"\n')
            inventory.write_text("\n".join(entries))
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "wattfleet.core.cli", "discover", "--no-mdns", "--inventory", str(inventory),
                "--info", "--json", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(proc.communicate(), 60)
            assert proc.returncode == 0, err.decode()
            rows = json.loads(out)
            assert sorted(r["info"]["host_id"] for r in rows) == sorted(ids)
            assert all(r["source"] == "inventory" and r["info"]["auth_required"] for r in rows)

            for agent in agents:
                agent.process.send_signal(signal.SIGTERM)
                await directory.wait_until(
                    lambda eps, gone=agent.host_id: all(e.host_id != gone for e in eps), VANISH_WITHIN_S
                )
                assert await asyncio.to_thread(agent.process.wait, 20) == 0, agent.log()
    finally:
        for agent in agents:
            agent.kill()
