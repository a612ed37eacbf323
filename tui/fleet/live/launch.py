"""Agents kept only to start runs on, while another source (Prometheus) draws the fleet.

With `wattfleet tui --prometheus URL`, hosts, power and tokens/J come from Prometheus, and runs are still
started on the agents directly: the agents found by zeroconf or an inventory are asked once for GetInfo and
their profiles (no telemetry stream, no journal), and kept under the same key as their Prometheus row
(`prometheus:<host_id>`), so the launcher and host detail find them. An agent that cannot be reached is
retried with backoff; meanwhile its row says why, unless the other source already shows that host.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from wattfleet.core.client import AgentClient
from wattfleet.core.errors import UsageError, WattfleetError
from wattfleet.core.model import API_NAME, RunRecord
from wattfleet.tui.fleet.backoff import Backoff
from wattfleet.tui.fleet.directory import AgentDirectory
from wattfleet.tui.fleet.endpoints import AgentEndpoint
from wattfleet.tui.fleet.live.connection import AgentConnection, describe_failure
from wattfleet.tui.fleet.model import FleetModel

AuthFor = Callable[[AgentEndpoint], tuple[str | None, Path | None]]
CANNOT_RUN = "cannot start runs here"
NOT_IN_SOURCE = "not in Prometheus's answer (is it scraped? see wattfleet sd); runs can still start here"


class LaunchOnlyAgents:
    """What the app needs of live agents (connections, fetch_record) without following them."""

    def __init__(self, directory: AgentDirectory, auth: AuthFor, key_for: Callable[[str], str], *,
                 backoff: Callable[[], Backoff] = lambda: Backoff(initial_s=1.0, max_s=60.0)) -> None:
        self.directory = directory
        self.auth = auth
        self.key_for = key_for
        self.backoff = backoff
        self.name = "agents (for runs)"
        self.connections: dict[str, AgentConnection] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}  # by gRPC target

    async def run(self, model: FleetModel) -> None:
        try:
            async with self.directory:
                async for event in self.directory.events():
                    if event.kind != "removed":
                        self._add(model, event.endpoint)
        finally:
            for task in self._tasks.values():
                task.cancel()
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    def _add(self, model: FleetModel, endpoint: AgentEndpoint) -> None:
        if not endpoint.api_supported:
            model.upsert_host(endpoint.key, endpoint.label, source=endpoint.source)
            model.set_status(endpoint.key, "unsupported",
                             f"speaks API {endpoint.api!r}; this console speaks {API_NAME!r} (upgrade one of them)")
            return
        try:
            target = endpoint.target
        except UsageError as exc:
            model.upsert_host(endpoint.key, endpoint.label, source=endpoint.source)
            model.set_status(endpoint.key, "error", str(exc))
            return
        if target not in self._tasks:
            self._tasks[target] = asyncio.get_running_loop().create_task(self._probe(model, endpoint, target))

    async def _probe(self, model: FleetModel, endpoint: AgentEndpoint, target: str) -> None:
        """GetInfo and ListProfiles once, retried with backoff; until they answer, the host's row says why,
        unless the other source already shows that host (one row a host, its status the source's)."""
        backoff = self.backoff()
        row = self.key_for(endpoint.label) if endpoint.label else endpoint.key
        while True:
            token, ca = self.auth(endpoint)
            try:
                async with AgentClient(target, token=token, tls_ca=ca) as client:
                    info = await client.get_info(timeout_s=10.0)
                    profiles = await client.list_profiles()
                break
            except WattfleetError as exc:
                _status, reason = describe_failure(exc, was_live=False)
                delay = backoff.next()
                host = model.hosts.get(row)
                if host is None or host.reason.startswith(CANNOT_RUN):
                    model.upsert_host(row, endpoint.label or target, source=endpoint.source, target=target)
                    model.set_status(row, "error", f"{CANNOT_RUN}: {reason}; retrying in {delay:.0f} s")
                await asyncio.sleep(delay)
        key = self.key_for(info.host_id or endpoint.label)
        if row != key and row in model.hosts and model.hosts[row].reason.startswith(CANNOT_RUN):
            model.remove_host(row)  # it answered under another host id
        if key not in model.hosts or model.hosts[key].reason.startswith(CANNOT_RUN):
            model.upsert_host(key, info.host_id, source=endpoint.source, target=target, labels=endpoint.label_map)
            model.set_status(key, "offline", NOT_IN_SOURCE)
        model.on_info(key, info)
        model.on_profiles(key, profiles)
        self.connections.setdefault(key, AgentConnection(endpoint, key, model, self.auth))

    async def fetch_record(self, key: str, run_id: str) -> RunRecord | None:
        conn = self.connections.get(key)
        return None if conn is None else await conn.fetch_record(run_id)

    def can_run(self, key: str) -> bool:
        return key in self.connections
