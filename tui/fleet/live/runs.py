"""A fleet-wide run: one profile started on many hosts, followed per host, cancellable one by one or all.

Results fill the model (and so the heatmap) as each host finishes; each host keeps its full record, and
when an output folder is given the record is also written there (never over another file).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from wattfleet.core.client import AgentError
from wattfleet.core.errors import WattfleetError
from wattfleet.core.model import ENDED_STATES, RunRecord, RunSpec
from wattfleet.core.recordfile import write_record
from wattfleet.tui.fleet.live.connection import AgentConnection, RunTrace, follow_run
from wattfleet.tui.fleet.model import FleetModel


@dataclass
class HostRun:
    key: str
    label: str
    spec: RunSpec
    state: str = "starting"
    run_id: str = ""
    fraction: float = 0.0
    error: str = ""
    record: RunRecord | None = None
    record_path: str = ""
    trace: RunTrace = field(default_factory=RunTrace)

    @property
    def ended(self) -> bool:
        return self.state in ENDED_STATES or self.state in ("refused", "unreachable")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:80] or "host"


class FleetRun:
    """`await FleetRun(model, connections, specs).run()`; `cancel(key)` / `cancel_all()` from the UI."""

    def __init__(self, model: FleetModel, connections: Mapping[str, AgentConnection], specs: Mapping[str, RunSpec],
                 out_dir: Path | None = None) -> None:
        self.model = model
        self.connections = connections
        self.hosts = {key: HostRun(key, model.hosts[key].label if key in model.hosts else key, spec)
                      for key, spec in specs.items()}
        self.out_dir = out_dir
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @property
    def done(self) -> bool:
        return all(h.ended for h in self.hosts.values())

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = {key: loop.create_task(self._one(key)) for key in self.hosts}
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _one(self, key: str) -> None:
        host = self.hosts[key]
        conn = self.connections.get(key)
        if conn is None:
            host.state, host.error = "refused", "not connected to this host"
            return
        profile = host.spec.profile or "(inline)"
        try:
            async with conn.client() as client:
                handle = await client.start_run(host.spec)
                host.run_id, host.state = handle.run_id, handle.state
                conn.traces[handle.run_id] = host.trace
                record = await follow_run(client, self.model, key, handle.run_id, profile, host.trace)
        except AgentError as exc:
            host.state = "failed" if host.run_id else ("unreachable" if exc.code == "UNAVAILABLE" else "refused")
            host.error = f"{exc.code}: {exc.message}"
            self.model.on_run_progress(key, None)
            return
        except WattfleetError as exc:
            host.state, host.error = "failed", str(exc)
            self.model.on_run_progress(key, None)
            return
        host.state, host.record, host.fraction = record.state, record, 1.0
        host.error = record.error
        if self.out_dir is not None:
            who, run_id = _safe(record.host_id or host.label), _safe(record.run_id)
            name = f"{run_id if run_id.startswith(who + '-') else who + '-' + run_id}.json"
            try:
                written = await asyncio.to_thread(write_record, record.to_json(), self.out_dir, name)
                host.record_path = str(written.path)
            except WattfleetError as exc:
                host.error = str(exc)

    def progress(self) -> None:
        """Copy the model's live progress into the host rows (the UI calls this before drawing)."""
        for host in self.hosts.values():
            view = self.model.hosts.get(host.key)
            if view is not None and view.live_run is not None and view.live_run.run_id == host.run_id:
                host.state, host.fraction = view.live_run.state, view.live_run.fraction

    async def cancel(self, key: str) -> str:
        """Cancel one host's run; returns what happened, for the status line."""
        host = self.hosts.get(key)
        conn = self.connections.get(key)
        if host is None or host.ended:
            return f"{key}: nothing to cancel"
        if not host.run_id or conn is None:
            task = self._tasks.get(key)
            if task is not None:
                task.cancel()
            host.state = "cancelled"
            return f"{host.label}: cancelled before it started"
        try:
            async with conn.client() as client:
                await asyncio.wait_for(client.cancel_run(host.run_id), 10.0)
        except (WattfleetError, asyncio.TimeoutError) as exc:
            return f"{host.label}: could not cancel run {host.run_id}: {exc}"
        return f"{host.label}: cancelling run {host.run_id}"

    async def cancel_all(self) -> list[str]:
        return list(await asyncio.gather(*(self.cancel(k) for k, h in self.hosts.items() if not h.ended)))
