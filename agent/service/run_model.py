"""One run as the agent holds it in memory, and the RunRecords made from it or from the journal."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from wattfleet.agent.service.bridge import EventBridge
from wattfleet.agent.service.engine import Prepared
from wattfleet.agent.service.events import EventLog
from wattfleet.agent.service.journal import StoredRun
from wattfleet.core.model import ENDED_STATES, RunRecord, RunSpec, Window
from wattfleet.core.model.record import RecordError


def new_run_id(host_id: str) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    host = "".join(c if c.isalnum() or c in "-_" else "-" for c in host_id)[:24] or "agent"
    return f"{host}-{stamp}-{secrets.token_hex(3)}"


@dataclass(eq=False)  # a run is itself: queues find it by identity
class Run:
    run_id: str
    spec: RunSpec
    prepared: Prepared
    created_ns: int
    log: EventLog[Any]
    state: str = "queued"
    started_unix_ns: int = 0
    ended_unix_ns: int = 0
    error: str = ""
    record: RunRecord | None = None  # the final record (with its JSON below) once the run ended
    record_json: str = ""
    cancel: threading.Event = field(default_factory=threading.Event)
    stopping: bool = False  # the agent is shutting down: the run ends as interrupted
    timed_out: bool = False
    tokens_done: int = 0
    queries_done: int = 0
    bridge: EventBridge | None = None
    thread: threading.Thread | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    journal_at: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)  # the agent's labels, then the spec's
    anchor: Window = field(default_factory=Window)  # set when the runner is open
    measuring_mono_ns: int = 0  # when measuring started (energy points count from here)
    start_mono_ns: int = 0
    end_mono_ns: int = 0
    seq_ceiling: int = 0  # no event above this goes out before the journal holds it
    ceiling_write: Future[None] | None = None
    energy_at_ns: int = 0  # the last energy point's time
    energy_total: dict[str, float] = field(default_factory=dict)

    @property
    def device(self) -> str:
        return self.prepared.device

    @property
    def ended(self) -> bool:
        return self.state in ENDED_STATES


def record_from_journal(row: StoredRun) -> RunRecord:
    """A run as the journal has it, without its queries: the stored summary, else what the row says."""
    text = row.summary_json or row.record_json
    if text:
        try:
            record = RunRecord.from_json(text)
        except RecordError:
            record = None
        if record is not None:
            record.last_seq = row.last_seq
            record.record_bytes = row.record_bytes
            record.state, record.error = row.state, row.error or record.error
            return record.slim()
    return RunRecord(
        run_id=row.run_id, state=row.state, host_id=row.host_id, device=row.device, profile=row.profile_dict,
        environment=row.environment, figures=list(row.figures), error=row.error, labels=dict(row.labels),
        window=Window(row.anchor_unix_ns, row.anchor_mono_ns), started_unix_ns=row.started_unix_ns,
        ended_unix_ns=row.ended_unix_ns, last_seq=row.last_seq,
    )


def live_record(run: Run, host_id: str) -> RunRecord:
    """A run still in progress: state, anchor and counters, no figures yet."""
    return RunRecord(
        run_id=run.run_id, state=run.state, host_id=host_id, device=run.device,
        profile=dict(run.prepared.profile_dict), window=run.anchor, error=run.error, labels=dict(run.labels),
        started_unix_ns=run.started_unix_ns, ended_unix_ns=run.ended_unix_ns, last_seq=run.log.last_seq,
    )
