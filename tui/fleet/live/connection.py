"""One agent, followed for as long as the console runs: GetInfo, its journal (ListRuns), live telemetry, and
the runs in progress. A dropped connection is retried with exponential backoff; meanwhile the host is
shown stale (or in error, with the reason: unreachable, wrong token), never live."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from wattfleet.core.client import AgentClient, AgentError
from wattfleet.core.errors import WattfleetError
from wattfleet.core.model import ENDED_STATES, PhaseChange, Progress, QueryBatch, RunRecord, TelemetryBatch, TokenBatch
from wattfleet.tui.fleet.backoff import Backoff
from wattfleet.tui.fleet.endpoints import AgentEndpoint
from wattfleet.tui.fleet.model import FleetModel, LiveRun

log = logging.getLogger(__name__)

TELEMETRY_INTERVAL_S = 1.0  # one merged telemetry message per agent per second
HISTORY_RUNS = 20
SERIES_POINTS = 2000


@dataclass
class RunTrace:
    """Per-token latency of a run as it streams: ITL over time and TTFT of each query (ms)."""

    itl: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=SERIES_POINTS))  # (t_s, ms)
    ttft: deque[float] = field(default_factory=lambda: deque(maxlen=SERIES_POINTS))
    _last_token_ns: dict[int, int] = field(default_factory=dict)
    _t0_ns: int = 0

    def add_tokens(self, batch: TokenBatch) -> None:
        for qid, t_ns in zip(batch.query_id, batch.t_ns, strict=False):
            self._t0_ns = self._t0_ns or t_ns
            before = self._last_token_ns.get(qid)
            if before is not None and t_ns >= before:
                self.itl.append(((t_ns - self._t0_ns) / 1e9, (t_ns - before) / 1e6))
            self._last_token_ns[qid] = t_ns

    def add_queries(self, batch: QueryBatch) -> None:
        for qid, sched, first in zip(batch.query_id, batch.scheduled_ns, batch.first_token_ns, strict=False):
            if first:
                self.ttft.append((first - sched) / 1e6)
            self._last_token_ns.pop(qid, None)


def power_readings(batch: TelemetryBatch) -> list[tuple[str, float]]:
    """The latest power of each domain in a batch (missing samples left out)."""
    latest: dict[str, tuple[int, float]] = {}
    for r in batch.power:
        if r.power_w is not None and not r.missing:
            if r.domain not in latest or r.t_ns >= latest[r.domain][0]:
                latest[r.domain] = (r.t_ns, r.power_w)
    return [(d, w) for d, (_t, w) in sorted(latest.items())]


async def follow_run(client: AgentClient, model: FleetModel, key: str, run_id: str, profile: str,
                     trace: RunTrace | None = None) -> RunRecord:
    """Follow a run's events into the model (progress, then the record); returns its full record when the
    agent can send it, else the slim one from the final event."""
    live = LiveRun(run_id, profile)
    model.on_run_progress(key, live)
    final: RunRecord | None = None
    try:
        async for event in client.watch_run(run_id):
            body = event.body
            if isinstance(body, PhaseChange):
                live.state, live.detail = body.state, body.detail
            elif isinstance(body, Progress):
                live.fraction, live.tokens_done, live.elapsed_s = body.fraction, body.tokens_done, body.elapsed_s
            elif isinstance(body, TokenBatch) and trace is not None:
                trace.add_tokens(body)
            elif isinstance(body, QueryBatch) and trace is not None:
                trace.add_queries(body)
            elif isinstance(body, RunRecord):
                final = body
                break
            model.on_run_progress(key, live)
    except AgentError as exc:
        if exc.code != "OUT_OF_RANGE":
            raise
    if final is None:
        final = await client.get_run(run_id)
    if final.state in ENDED_STATES:
        try:
            final = await client.get_run_record(run_id)
        except AgentError as exc:
            log.info("%s: full record of %s not available (%s); keeping the summary", client.target, run_id, exc)
    model.add_record(key, final)
    return final


def describe_failure(exc: WattfleetError, was_live: bool) -> tuple[str, str]:
    """(status, reason) for a failed connection attempt."""
    if isinstance(exc, AgentError):
        if exc.code in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
            return "error", f"refused: {exc.message or exc.code} (wrong or missing token?)"
        if exc.code == "UNIMPLEMENTED":
            return "error", f"does not speak this API: {exc.message or exc.code}"
        if exc.code == "UNAVAILABLE":
            return ("stale" if was_live else "error"), f"{'connection lost' if was_live else 'unreachable'}: " + (
                exc.message.splitlines()[0] if exc.message else "UNAVAILABLE")
        return ("stale" if was_live else "error"), f"{exc.code}: {exc.message}"
    return ("stale" if was_live else "error"), str(exc)


class AgentConnection:
    """Follows one agent into the model until cancelled. `fetch_record` serves the screens."""

    def __init__(self, endpoint: AgentEndpoint, key: str, model: FleetModel,
                 auth: Callable[[AgentEndpoint], tuple[str | None, Path | None]], *,
                 backoff: Backoff | None = None, telemetry_interval_s: float = TELEMETRY_INTERVAL_S) -> None:
        self.endpoint = endpoint
        self.key = key
        self.model = model
        self.auth = auth
        self.backoff = backoff or Backoff(initial_s=0.5, max_s=15.0)
        self.telemetry_interval_s = telemetry_interval_s
        self.traces: dict[str, RunTrace] = {}
        self._followers: set[asyncio.Task[RunRecord]] = set()

    def client(self) -> AgentClient:
        token, ca = self.auth(self.endpoint)
        return AgentClient(self.endpoint.target, token=token, tls_ca=ca)

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self._session()
                    failure: WattfleetError = WattfleetError("the agent closed the telemetry stream")
                except WattfleetError as exc:
                    failure = exc
                host = self.model.hosts.get(self.key)
                status, reason = describe_failure(failure, host is not None and host.last_seen_s is not None)
                delay = self.backoff.next()
                self.model.set_status(self.key, "stale" if status == "stale" else "error",
                                      f"{reason}; retrying in {delay:.0f} s")
                await asyncio.sleep(delay)
        finally:
            for task in list(self._followers):
                task.cancel()

    async def _session(self) -> None:
        async with self.client() as client:
            info = await client.get_info(timeout_s=10.0)
            self.model.on_info(self.key, info)
            self.model.seen(self.key)
            self.backoff.reset()
            self.model.on_profiles(self.key, await client.list_profiles())
            runs = await client.list_runs(HISTORY_RUNS)
            self.model.set_runs(self.key, [r for r in runs if r.state in ENDED_STATES])
            for run in runs:
                if run.state not in ENDED_STATES:
                    self.follow(run.run_id, str(run.profile.get("name", "")))
            async for batch in client.stream_telemetry(self.telemetry_interval_s):
                readings = power_readings(batch)
                if readings:
                    self.model.on_power(self.key, readings)
                else:
                    self.model.seen(self.key)

    def follow(self, run_id: str, profile: str) -> asyncio.Task[RunRecord]:
        """Follow a run on this agent in the background (its own client, so a telemetry drop does not end it)."""
        trace = self.traces.setdefault(run_id, RunTrace())

        async def go() -> RunRecord:
            async with self.client() as client:
                return await follow_run(client, self.model, self.key, run_id, profile, trace)

        task = asyncio.get_running_loop().create_task(go())
        self._followers.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[RunRecord]) -> None:
        self._followers.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.info("%s: following a run failed: %s", self.endpoint.target, task.exception())

    async def fetch_record(self, run_id: str) -> RunRecord:
        """The full record of one run (every query's timings), for host detail and the record screen."""
        async with self.client() as client:
            record = await client.get_run_record(run_id)
        self.model.add_record(self.key, record)
        return record
