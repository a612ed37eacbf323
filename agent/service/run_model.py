"""One run as the agent holds it in memory, and the wire summaries made from it or from the journal."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from wattfleet.agent.service.bridge import EventBridge
from wattfleet.agent.service.engine import Prepared
from wattfleet.agent.service.events import EventLog
from wattfleet.agent.service.journal import StoredRun
from wattfleet.core import wire


def new_run_id(host_id: str) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    host = "".join(c if c.isalnum() or c in "-_" else "-" for c in host_id)[:24] or "agent"
    return f"{host}-{stamp}-{secrets.token_hex(3)}"


@dataclass(eq=False)  # a run is itself: queues find it by identity
class Run:
    run_id: str
    spec: wire.RunSpec
    prepared: Prepared
    created_ns: int
    log: EventLog[Any]
    state: str = "queued"
    started_unix_ns: int = 0
    ended_unix_ns: int = 0
    error: str = ""
    summary: wire.RunSummary | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    stopping: bool = False  # the agent is shutting down: the run ends as interrupted
    timed_out: bool = False
    tokens_done: int = 0
    queries_done: int = 0
    pending_tokens: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    bridge: EventBridge | None = None
    thread: threading.Thread | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    journal_at: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)  # the agent's labels, then the spec's

    @property
    def device(self) -> str:
        return self.prepared.device

    @property
    def ended(self) -> bool:
        return self.state in wire.ENDED_STATES


def summary_from_journal(row: StoredRun, record_limit: int, *, with_record: bool) -> wire.RunSummary:
    """A run as the journal has it; its record JSON packed to fit one message."""
    return wire.RunSummary(
        run_id=row.run_id,
        state=row.state,
        profile=row.profile,
        started_unix_ns=row.started_unix_ns,
        ended_unix_ns=row.ended_unix_ns,
        host_id=row.host_id,
        figures=tuple(wire.Figure.from_dict(f) for f in row.figures if is_figure(f)),
        error=row.error,
        record_json=wire.pack_record_json(row.record_json, record_limit) if with_record else "",
        labels=dict(row.labels),
        last_seq=row.last_seq,
    )


def live_summary(run: Run, host_id: str) -> wire.RunSummary:
    """A run still in progress: state and counters, no figures yet."""
    return wire.RunSummary(
        run_id=run.run_id,
        state=run.state,
        profile=run.prepared.profile.name,
        started_unix_ns=run.started_unix_ns,
        ended_unix_ns=run.ended_unix_ns,
        host_id=host_id,
        error=run.error,
        labels=dict(run.labels),
        last_seq=run.log.last_seq,
    )


def is_figure(f: Any) -> bool:
    """A figure dict as METRICS.md shapes it (a name and a numeric value)."""
    return isinstance(f, dict) and "name" in f and isinstance(f.get("value"), (int, float))
