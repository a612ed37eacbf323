"""The run manager: queue runs per device, execute them off the loop, sequence their events, journal them.

One measured run per device at a time; the next waits in a FIFO queue (or is refused when the agent
does not queue). Each run executes in its own thread (ONNX Runtime never runs on the loop). Its events
come over an EventBridge, get sequence numbers here, on the loop, and go into the run's EventLog, from
which every watcher reads by cursor (run_feed.py turns the bridge's items into events and journal rows).
The last event of a run is its final RunRecord; GetRunRecord streams the full JSON record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from wattfleet.agent.service import engine, power_limits, recovery
from wattfleet.agent.service.bridge import EventBridge
from wattfleet.agent.service.config import AgentConfig
from wattfleet.agent.service.engine import RpcError
from wattfleet.agent.service.events import EventLog, FellBehind, ResumeGone
from wattfleet.agent.service.exporter import MetricsState
from wattfleet.agent.service.journal import Journal, StoredRun
from wattfleet.agent.service.run_feed import SEQ_BLOCK, RunFeed
from wattfleet.agent.service.run_model import Run, live_record, new_run_id, record_from_journal
from wattfleet.core import wire
from wattfleet.core.errors import WattfleetError
from wattfleet.core.model import ENDED_STATES, Notice, PhaseChange, RunEventBody, RunHandle, RunRecord, RunSpec

log = logging.getLogger("wattfleet.agent.runs")

KEEP_ENDED_RUNS = 16  # ended runs whose events stay in memory; older ones answer from the journal
KEEP_INTERVALS = 64  # recent runs' (device, start, end), to flag domains two runs shared
TICK_S = 0.02  # how often pending token/query events are handed over when no batch filled up

# run_profile(profile, *, model_dirs, cache_dir, observer, cancel, sampler, run_id, ...) -> RunRecord
Execute = Callable[..., Any]


def _default_execute(*args: Any, **kwargs: Any) -> Any:
    from wattfleet.agent.workloads.driver import run_profile

    return run_profile(*args, **kwargs)


class RunManager:
    """All runs of one agent. Every public coroutine runs on the agent's loop."""

    def __init__(
        self,
        config: AgentConfig,
        host_id: str,
        journal: Journal,
        metrics: MetricsState,
        *,
        sampler: Any = None,
        cpu_meter: Any = None,
        execute: Execute = _default_execute,
    ) -> None:
        self.config = config
        self.host_id = host_id
        self.journal = journal
        self.metrics = metrics
        self.sampler = sampler
        self.cpu_meter = cpu_meter
        self._execute = execute
        self._io = ThreadPoolExecutor(1, thread_name_prefix="wattfleet-journal")
        self._io_closed = False
        self._runs: OrderedDict[str, Run] = OrderedDict()
        self._busy: dict[str, Run] = {}
        self._waiting: dict[str, deque[Run]] = {}
        self._watchers = 0
        self._ticker: asyncio.Task[None] | None = None
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._intervals: deque[tuple[str, str, int, int]] = deque(maxlen=KEEP_INTERVALS)
        self._intervals_lock = threading.Lock()
        self.feed = RunFeed(self)

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> list[str]:
        """Put back power limits a crash left changed; mark runs cut short by a crash as interrupted (records
        rebuilt); returns their ids."""
        for line in await self._in_io(power_limits.restore_at_start, self.config, self.journal):
            log.warning("%s", line)
        marked: list[str] = await self._in_io(
            self.journal.recover,
            recovery.rebuild_record,
            restart_unix_ns=time.time_ns(),
            reason="interrupted: the agent stopped or crashed during the run",
        )
        for run_id in marked:
            log.warning("run %s was cut short by an agent stop or crash; marked interrupted", run_id)
        self.metrics.runs_recovered_as_interrupted(len(marked))
        await self._in_io(self.journal.prune, self.config.journal_keep_runs)
        self._ticker = asyncio.create_task(self._tick(), name="wattfleet-run-ticker")
        return marked

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Cancel what is queued, stop what runs (it ends as interrupted), wait, flush the journal."""
        for queue in self._waiting.values():
            while queue:
                run = queue.popleft()
                run.stopping = True
                self._finish(run, None, "interrupted: the agent was stopped before the run started")
        running = list(self._busy.values())
        for run in running:
            run.stopping = True
            run.cancel.set()
        if running:
            await asyncio.wait([asyncio.ensure_future(r.done.wait()) for r in running], timeout=timeout_s)
        if self._ticker is not None:
            self._ticker.cancel()
        await self._in_io(lambda: None)  # everything queued for the journal is written
        self._io_closed = True
        self._io.shutdown(wait=True)

    async def _in_io(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._io, lambda: fn(*args, **kwargs))

    def io_submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Queue a journal write on the I/O thread; returns its future (None once the journal is closed)."""
        if self._io_closed:  # a run that outlived the agent's grace period: recovery marks it at next start
            log.warning("journal closed; dropped a late write (%s)", getattr(fn, "__name__", fn))
            return None

        def job() -> None:
            try:
                fn(*args, **kwargs)
            except Exception:  # a journal write that fails must not take the run down; it is logged
                log.exception("journal write failed (%s)", getattr(fn, "__name__", fn))

        return self._io.submit(job)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            for run in self._busy.values():
                if run.bridge is not None:
                    run.bridge.flush()
                self.feed.maybe_energy_point(run)

    # --- RPC-facing ------------------------------------------------------------------------------

    async def start_run(self, spec: RunSpec) -> RunHandle:
        loop = asyncio.get_running_loop()
        prepared = await loop.run_in_executor(None, engine.prepare, spec, self.config)
        device = prepared.device
        if device in self._busy and not self.config.queue_runs:
            busy = self._busy[device]
            raise RpcError(
                "RESOURCE_EXHAUSTED",
                f"device {device} is busy with run {busy.run_id} ({busy.state}) and this agent does not "
                "queue runs; retry when it ends (WatchRun or ListRuns tells you)",
            )
        run = Run(
            run_id=new_run_id(self.host_id),
            spec=spec,
            prepared=prepared,
            created_ns=time.time_ns(),
            log=EventLog(self.config.event_buffer, name="run events"),
            labels={**self.config.labels, **spec.labels},
            seq_ceiling=SEQ_BLOCK,
        )
        # Durable before any event goes out, so a crash can always be told to a client that saw events.
        await self._in_io(
            self.journal.create_run,
            run.run_id,
            created_ns=run.created_ns,
            profile=prepared.profile.name,
            host_id=self.host_id,
            device=device,
            spec={"profile": spec.profile, "profile_toml": spec.profile_toml, "overrides": spec.overrides,
                  "labels": spec.labels, "device": spec.device},
            profile_dict=prepared.profile_dict,
            labels=run.labels,
            profile_text=prepared.profile_text,
            seq_ceiling=run.seq_ceiling,
        )
        self._runs[run.run_id] = run
        self.publish(run, PhaseChange("queued", f"device {device}"))
        for note in prepared.notes:
            self.publish(run, Notice("warning", note))
        position = 0
        if device in self._busy:
            queue = self._waiting.setdefault(device, deque())
            queue.append(run)
            position = len(queue)
        else:
            self._launch(run)
        self._update_metrics_state()
        return RunHandle(run.run_id, run.state, position)

    async def cancel_run(self, run_id: str) -> RunHandle:
        run = self._runs.get(run_id)
        if run is None:
            stored = await self._stored(run_id)
            return RunHandle(stored.run_id, stored.state, 0)
        if run.ended:
            return RunHandle(run_id, run.state, 0)
        queue = self._waiting.get(run.device)
        if queue is not None and run in queue:
            queue.remove(run)
            self._finish(run, None, "cancelled before it started", state="cancelled")
        else:
            run.cancel.set()
            self.publish(run, Notice("info", "cancel requested; the run stops at the next query"))
        return RunHandle(run_id, run.state, 0)

    async def get_run(self, run_id: str) -> RunRecord:
        run = self._runs.get(run_id)
        if run is not None:
            if run.record is not None:
                return run.record
            record = live_record(run, self.host_id)
            # Figures so far, from what the journal holds (marked low confidence: the run is not over).
            queries = await self._in_io(self.journal.queries, run_id)
            record.figures = await self._in_io(recovery.partial_figures, None, run.prepared.profile_dict, queries)
            return record
        return record_from_journal(await self._stored(run_id))

    async def record_json(self, run_id: str) -> str:
        """The full JSON record of an ended run (FAILED_PRECONDITION while it is not over)."""
        run = self._runs.get(run_id)
        if run is not None and not run.ended:
            raise RpcError("FAILED_PRECONDITION", f"run {run_id} is {run.state}; its record exists once it ended "
                           "(WatchRun ends with it)")
        if run is not None and run.record_json:
            return run.record_json
        stored = await self._stored(run_id, with_record=True)
        if not stored.ended:
            raise RpcError("FAILED_PRECONDITION", f"run {run_id} is {stored.state}; its record exists once it ended")
        return stored.record_json or record_from_journal(stored).to_json()

    async def list_runs(self, limit: int) -> list[RunRecord]:
        limit = min(limit or 50, 1000)
        stored = await self._in_io(self.journal.list_runs, limit)
        out: dict[str, RunRecord] = {row.run_id: record_from_journal(row) for row in stored}
        for run in self._runs.values():  # live state beats what the journal has so far
            out[run.run_id] = run.record.slim() if run.record is not None else live_record(run, self.host_id)
        created = {r.run_id: r.created_ns for r in stored}
        created.update((r.run_id, r.created_ns) for r in self._runs.values())
        rows = sorted(out.values(), key=lambda s: (created.get(s.run_id, 0), s.run_id), reverse=True)
        return rows[:limit]

    async def watch(self, run_id: str, after_seq: int) -> AsyncIterator[list[Any]]:
        """Chunks of wire RunEvents after `after_seq`, ending with the final record.

        A resume point at or past the run's last event is answered OUT_OF_RANGE (never an empty stream):
        ahead of the agent, or past the end of an ended run, which GetRun then has.
        """
        run = self._runs.get(run_id)
        if run is None:
            stored = await self._stored(run_id)
            async for chunk in self._watch_stored(stored, after_seq):
                yield chunk
            return
        last = run.log.last_seq
        if after_seq > last or (run.log.closed and after_seq >= last):
            raise RpcError("OUT_OF_RANGE", _past_end(run_id, after_seq, last, run.state, run.log.closed))
        try:
            run.log.check_resume(after_seq)
        except ResumeGone as exc:
            raise RpcError("OUT_OF_RANGE", f"run {run_id}: {exc}") from exc
        async with self.watcher_slot():
            try:
                async for _first, items in run.log.follow(after_seq, limit=64):
                    yield items
            except FellBehind as exc:
                raise RpcError("OUT_OF_RANGE", f"run {run_id}: {exc}") from exc

    @contextlib.asynccontextmanager
    async def watcher_slot(self) -> AsyncIterator[None]:
        """Hold one of the agent's max_watchers stream slots (WatchRun and StreamTelemetry share them)."""
        if self._watchers >= self.config.max_watchers:
            raise RpcError(
                "RESOURCE_EXHAUSTED",
                f"this agent already serves {self._watchers} streams (its limit, --max-watchers "
                f"{self.config.max_watchers}); close one or retry later",
            )
        self._watchers += 1
        try:
            yield
        finally:
            self._watchers -= 1

    async def _watch_stored(self, stored: StoredRun, after_seq: int) -> AsyncIterator[list[Any]]:
        """An ended run the agent holds only in its journal: only its final event can still be sent."""
        if after_seq >= stored.last_seq:
            raise RpcError("OUT_OF_RANGE", _past_end(stored.run_id, after_seq, stored.last_seq, stored.state, True))
        final = record_from_journal(stored)
        if after_seq < stored.last_seq - 1 and final.state != "interrupted":
            raise RpcError(
                "OUT_OF_RANGE",
                f"run {stored.run_id}: its events ({after_seq + 1}..{stored.last_seq - 1}) are no longer "
                "buffered (it ended before this agent started, or long ago); fetch the rest with GetRun",
            )
        # An interrupted run's final event comes after a gap: the events the agent lost when it stopped.
        yield [wire.run_event_proto(stored.last_seq, time.monotonic_ns(), final)]

    @property
    def watchers(self) -> int:
        return self._watchers

    # --- internals -------------------------------------------------------------------------------

    async def _stored(self, run_id: str, *, with_record: bool = False) -> StoredRun:
        if not run_id or len(run_id) > 200:
            raise RpcError("INVALID_ARGUMENT", "run_id is empty or too long; ListRuns shows the ids")
        stored = await self._in_io(self.journal.get, run_id, with_record=with_record)
        if stored is None:
            raise RpcError("NOT_FOUND", f"no run {run_id!r} on this agent; ListRuns shows the ids it knows")
        return stored  # type: ignore[no-any-return]

    def publish(self, run: Run, body: RunEventBody, t_ns: int | None = None) -> int:
        """Number an event and append it to the run's log (the loop's thread only)."""
        seq = run.log.last_seq + 1
        self.feed.ensure_ceiling(run, seq)
        if isinstance(body, PhaseChange):
            run.state = body.state
        if isinstance(body, RunRecord):
            body.last_seq = seq
        run.log.append(wire.run_event_proto(seq, t_ns or time.monotonic_ns(), body))
        return seq

    def other_devices(self, run: Run) -> Callable[[int, int], Iterable[str]]:
        """For the run's thread: devices of other runs that overlapped [t0, t1] (monotonic ns)."""

        def others(t0_ns: int, t1_ns: int) -> Iterator[str]:
            with self._intervals_lock:
                spans = list(self._intervals)
            for run_id, device, start, end in spans:
                if run_id != run.run_id and start <= t1_ns and (end == 0 or end >= t0_ns):
                    yield device

        return others

    def _launch(self, run: Run) -> None:
        loop = asyncio.get_running_loop()
        self._busy[run.device] = run
        run.started_unix_ns = time.time_ns()
        run.start_mono_ns = time.monotonic_ns()
        with self._intervals_lock:
            self._intervals.append((run.run_id, run.device, run.start_mono_ns, 0))
        run.bridge = EventBridge(loop, lambda items: self.feed.on_items(run, items))
        self.io_submit(self.journal.set_state, run.run_id, "preparing", started_unix_ns=run.started_unix_ns)
        self._timers[run.run_id] = loop.call_later(self.config.max_run_s, self._time_out, run)
        run.thread = threading.Thread(target=self._thread_main, args=(run, loop), name=f"run-{run.run_id}", daemon=True)
        run.thread.start()

    def _time_out(self, run: Run) -> None:
        if not run.ended:
            run.timed_out = True
            run.cancel.set()
            self.publish(run, Notice("warning", f"the run reached the agent's limit of {self.config.max_run_s:g} s "
                                                "(max_run_s); stopping it"))

    def _thread_main(self, run: Run, loop: asyncio.AbstractEventLoop) -> None:
        record: Any = None
        error = ""

        def opened(rec: RunRecord) -> None:  # the runner is open: journal what runs where, and the anchor
            run.anchor = rec.window
            self.io_submit(self.journal.set_started, run.run_id, rec)

        # Only an agent allowed to change power limits hands the consent on (a power-limit sweep needs it).
        consent = power_limits.power_limits_for(self.config, self.journal)
        extra = {"power_limits": consent} if consent is not None else {}
        try:
            record = self._execute(
                run.prepared.profile,
                model_dirs=tuple(self.config.model_dirs),
                cache_dir=self.config.data_dir / "cache",
                observer=run.bridge,
                cancel=run.cancel,
                sampler=self.sampler,
                run_id=run.run_id,
                profile_text=run.prepared.profile_text,
                device=run.device,
                host_id=self.host_id,
                labels=run.labels,
                cpu_meter=self.cpu_meter,
                other_devices=self.other_devices(run),
                on_environment=opened,
                **extra,
            )
        except WattfleetError as exc:
            error = str(exc)
        except Exception as exc:  # an engine bug must end this run, visibly, not the agent
            log.exception("run %s crashed", run.run_id)
            error = f"internal error: {type(exc).__name__}: {exc}"
        finally:
            assert run.bridge is not None
            run.bridge.close()
            try:
                loop.call_soon_threadsafe(self._finish, run, record, error)
            except RuntimeError:  # the loop is gone; the journal's recovery marks the run at next start
                pass

    def _finish(self, run: Run, record: RunRecord | None, error: str, *, state: str | None = None) -> None:
        """End a run on the loop: final phase, final record event, journal, metrics, next queued run."""
        if run.ended:
            return
        timer = self._timers.pop(run.run_id, None)
        if timer is not None:
            timer.cancel()
        if record is not None:
            state = state or record.state
            error = error or record.error
        else:
            state = state or ("failed" if error else "cancelled")
            record = live_record(run, self.host_id)
        if run.timed_out:
            error = error or f"stopped at the agent's limit of {self.config.max_run_s:g} s"
        if run.stopping and state != "completed":
            state = "interrupted"
            error = error or "interrupted: the agent was stopped during the run"
        if state not in ENDED_STATES:
            state = "failed"
        run.error = error
        run.ended_unix_ns = time.time_ns()
        run.end_mono_ns = time.monotonic_ns()
        with self._intervals_lock:
            self._intervals = deque(((i, d, s, run.end_mono_ns if i == run.run_id else e)
                                     for i, d, s, e in self._intervals), maxlen=KEEP_INTERVALS)
        record.state, record.error = state, error
        record.labels = {**record.labels, **run.labels}
        record.host_id = record.host_id or self.host_id
        record.started_unix_ns = record.started_unix_ns or run.started_unix_ns
        record.ended_unix_ns = record.ended_unix_ns or run.ended_unix_ns
        self.publish(run, PhaseChange(state, error))
        final_seq = run.log.last_seq + 1
        record.last_seq = final_seq
        run.record_json = record.to_json()
        record.record_bytes = len(run.record_json.encode("utf-8"))
        run.record = record.slim()
        self.publish(run, run.record)
        run.log.close()
        self.io_submit(self.journal.progress, run.run_id, tokens_done=run.tokens_done, queries_done=run.queries_done,
                       last_seq=final_seq, last_unix_ns=run.ended_unix_ns, last_mono_ns=run.end_mono_ns)
        self.io_submit(self.journal.finish, run.run_id, state=state, ended_unix_ns=record.ended_unix_ns,
                       figures=record.figures, record_json=run.record_json, error=error, last_seq=final_seq,
                       environment=dict(record.environment) or None, summary_json=run.record.to_json())
        self.metrics.run_ended(run.run_id, run.prepared.profile.name, state, run.ended_unix_ns / 1e9, record.figures)
        run.done.set()
        if self._busy.get(run.device) is run:
            del self._busy[run.device]
            queue = self._waiting.get(run.device)
            if queue and not run.stopping:
                self._launch(queue.popleft())
        self._forget_old_runs()
        self._update_metrics_state()

    def _forget_old_runs(self) -> None:
        ended = [r for r in self._runs.values() if r.ended]
        for run in ended[: max(0, len(ended) - KEEP_ENDED_RUNS)]:
            del self._runs[run.run_id]

    def update_metrics_state(self) -> None:
        self._update_metrics_state()

    def _update_metrics_state(self) -> None:
        active = next(iter(self._busy.values()), None)
        queued = sum(len(q) for q in self._waiting.values())
        if active is None:
            self.metrics.set_run_state("queued" if queued else "idle", "", queued)
        else:
            self.metrics.set_run_state(active.state, active.run_id, queued)


def _past_end(run_id: str, after_seq: int, last: int, state: str, ended: bool) -> str:
    if after_seq > last:
        return (f"run {run_id}: after_seq {after_seq} is ahead of this agent's events (the last is {last}; "
                "the agent may have restarted); resume from a sequence number you received, or call GetRun")
    return (f"run {run_id} ended ({state}) with event {last}; nothing follows it; GetRun has its record"
            if ended else f"run {run_id}: nothing after event {last} yet")
