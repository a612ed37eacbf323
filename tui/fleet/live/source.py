"""Live agents as a source of the fleet model: whatever the directory knows (zeroconf, an inventory, a
credentials file) gets a host row and, when we can speak to it, an AgentConnection."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from wattfleet.core.errors import UsageError
from wattfleet.core.model import API_NAME, RunRecord
from wattfleet.tui.fleet.backoff import Backoff
from wattfleet.tui.fleet.directory import AgentDirectory
from wattfleet.tui.fleet.endpoints import AgentEndpoint
from wattfleet.tui.fleet.live.connection import TELEMETRY_INTERVAL_S, AgentConnection
from wattfleet.tui.fleet.model import FleetModel

AuthFor = Callable[[AgentEndpoint], tuple[str | None, Path | None]]


class LiveSource:
    """Feeds the model from every agent the directory reports, one connection each."""

    def __init__(self, directory: AgentDirectory, auth: AuthFor, *,
                 backoff: Callable[[], Backoff] = lambda: Backoff(initial_s=0.5, max_s=15.0),
                 telemetry_interval_s: float = TELEMETRY_INTERVAL_S) -> None:
        self.directory = directory
        self.auth = auth
        self.backoff = backoff
        self.telemetry_interval_s = telemetry_interval_s
        self.name = "agents"
        self.connections: dict[str, AgentConnection] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._by_target: dict[str, str] = {}

    async def run(self, model: FleetModel) -> None:
        try:
            async with self.directory:
                async for event in self.directory.events():
                    endpoint = event.endpoint
                    if event.kind == "removed":
                        model.set_status(endpoint.key, "stale", "stopped advertising over zeroconf; reconnecting")
                    else:
                        self._add(model, endpoint)
        finally:
            for task in self._tasks.values():
                task.cancel()
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    def _add(self, model: FleetModel, endpoint: AgentEndpoint) -> None:
        key = endpoint.key
        target = _target(endpoint)
        owner = self._by_target.get(target)
        if owner is not None and owner != key:
            return  # the same agent found twice (inventory and zeroconf): one row
        model.upsert_host(key, endpoint.label or target, source=endpoint.source, target=target,
                          labels=endpoint.label_map)
        if not endpoint.api_supported:
            model.set_status(key, "unsupported", f"speaks API {endpoint.api!r}; this console speaks {API_NAME!r} "
                                                 "(upgrade one of them)")
            return
        if not target:
            model.set_status(key, "error", "no address to connect to")
            return
        old = self.connections.get(key)
        if old is not None and old.endpoint.target == target:
            old.endpoint = endpoint
            return
        if key in self._tasks:
            self._tasks.pop(key).cancel()
        self._by_target[target] = key
        conn = AgentConnection(endpoint, key, model, self.auth, backoff=self.backoff(),
                               telemetry_interval_s=self.telemetry_interval_s)
        self.connections[key] = conn
        self._tasks[key] = asyncio.get_running_loop().create_task(conn.run())

    async def fetch_record(self, key: str, run_id: str) -> RunRecord | None:
        conn = self.connections.get(key)
        return None if conn is None else await conn.fetch_record(run_id)

    def can_run(self, key: str) -> bool:
        return key in self.connections


def _target(endpoint: AgentEndpoint) -> str:
    try:
        return endpoint.target
    except UsageError:  # an endpoint without an address: said on its row
        return ""
