"""The run manager: queue runs per device, execute them off the loop, sequence their events, journal them.

One measured run per device at a time; the next waits in a FIFO queue (or is refused when the agent
does not queue). Each run executes in its own thread (ONNX Runtime never runs on the loop). Its events
come over an EventBridge, get sequence numbers here, on the loop, and go into the run's EventLog, from
which every watcher reads by cursor. The last event of a run is its summary (the full record).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from wattfleet.agent.service import engine
from wattfleet.agent.service.bridge import EventBridge, Item, Phase, ProgressNote, Queries, Tokens
from wattfleet.agent.service.config import AgentConfig
from wattfleet.agent.service.engine import RpcError
from wattfleet.agent.service.events import EventLog, FellBehind, ResumeGone
from wattfleet.agent.service.exporter import MetricsState
from wattfleet.agent.service.journal import Journal, StoredQuery, StoredRun
from wattfleet.agent.service.run_model import Run, is_figure, live_summary, new_run_id, summary_from_journal
from wattfleet.core import wire
from wattfleet.core.errors import WattfleetError

log = logging.getLogger("wattfleet.agent.runs")

KEEP_ENDED_RUNS = 16  # ended runs whose events stay in memory; older ones answer from the journal
TICK_S = 0.02  # how often pending token/query events are handed over when no batch filled up
JOURNAL_PROGRESS_S = 0.25
PHASES = ("preparing", "warmup", "measuring", "completed", "failed", "cancelled")

# run_profile(profile, *, model_dirs, cache_dir, observer, cancel, sampler, run_id) -> record
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
        execute: Execute = _default_execute,
    ) -> None:
        self.config = config
        self.host_id = host_id
        self.journal = journal
        self.metrics = metrics
        self.sampler = sampler
        self._execute = execute
        self._io = ThreadPoolExecutor(1, thread_name_prefix="wattfleet-journal")
        self._io_closed = False
        self._record_limit = max(64 * 1024, config.max_message_bytes - 64 * 1024)  # room for the rest
        self._runs: OrderedDict[str, Run] = OrderedDict()
        self._busy: dict[str, Run] = {}
        self._waiting: dict[str, deque[Run]] = {}
        self._watchers = 0
        self._ticker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timers: dict[str, asyncio.TimerHandle] = {}

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> list[str]:
        """Mark runs cut short by a crash as interrupted (figures rebuilt); returns their ids."""
        self._loop = asyncio.get_running_loop()
        marked = await self._in_io(
            self.journal.recover,
            engine.rebuild_record,
            ended_unix_ns=time.time_ns(),
            reason="interrupted: the agent stopped or crashed during the run",
        )
        for run_id in marked:
            log.warning("run %s was cut short by an agent stop or crash; marked interrupted", run_id)
        await self._in_io(self.journal.prune, self.config.journal_keep_runs)
        self._ticker = asyncio.create_task(self._tick(), name="wattfleet-run-ticker")
        return list(marked)

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

    def _io_submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        if self._io_closed:  # a run that outlived the agent's grace period: recovery marks it at next start
            log.warning("journal closed; dropped a late write (%s)", getattr(fn, "__name__", fn))
            return

        def job() -> None:
            try:
                fn(*args, **kwargs)
            except Exception:  # a journal write that fails must not take the run down; it is logged
                log.exception("journal write failed (%s)", getattr(fn, "__name__", fn))

        self._io.submit(job)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            for run in self._busy.values():
                if run.bridge is not None:
                    run.bridge.flush()

    # --- RPC-facing ------------------------------------------------------------------------------

    async def start_run(self, spec: wire.RunSpec) -> wire.RunHandle:
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
        )
        self._runs[run.run_id] = run
        self._io_submit(
            self.journal.create_run,
            run.run_id,
            created_ns=run.created_ns,
            profile=prepared.profile.name,
            host_id=self.host_id,
            device=device,
            spec={
                "profile": spec.profile,
                "profile_toml": spec.profile_toml,
                "overrides": spec.overrides,
                "labels": spec.labels,
                "device": spec.device,
            },
            profile_dict=prepared.profile_dict,
            labels=run.labels,
        )
        self._publish(run, wire.PhaseChange("queued", f"device {device}"))
        for note in prepared.notes:
            self._publish(run, wire.Notice("warning", note))
        position = 0
        if device in self._busy:
            queue = self._waiting.setdefault(device, deque())
            queue.append(run)
            position = len(queue)
        else:
            self._launch(run)
        self._update_metrics_state()
        return wire.RunHandle(run.run_id, run.state, position)

    async def cancel_run(self, run_id: str) -> wire.RunHandle:
        run = self._runs.get(run_id)
        if run is None:
            stored = await self._stored(run_id)
            return wire.RunHandle(stored.run_id, stored.state, 0)
        if run.ended:
            return wire.RunHandle(run_id, run.state, 0)
        queue = self._waiting.get(run.device)
        if queue is not None and run in queue:
            queue.remove(run)
            self._finish(run, None, "cancelled before it started", state="cancelled")
        else:
            run.cancel.set()
            self._publish(run, wire.Notice("info", "cancel requested; the run stops at the next query"))
        return wire.RunHandle(run_id, run.state, 0)

    async def get_run(self, run_id: str) -> wire.RunSummary:
        run = self._runs.get(run_id)
        if run is not None:
            if run.summary is not None:
                return run.summary
            summary = live_summary(run, self.host_id)
            # Figures so far, from what the journal holds (marked low confidence: the run is not done).
            queries = await self._in_io(self.journal.queries, run_id)
            figures, _window = await self._in_io(engine.partial_figures, queries, run.prepared.profile_dict)
            return wire.RunSummary(
                **{
                    **summary.__dict__,
                    "figures": tuple(
                        wire.Figure.from_dict({**f, "low_confidence": True}) for f in figures if is_figure(f)
                    ),
                }
            )
        return summary_from_journal(await self._stored(run_id), self._record_limit, with_record=True)

    async def list_runs(self, limit: int) -> list[wire.RunSummary]:
        limit = min(limit or 50, 1000)
        stored = await self._in_io(self.journal.list_runs, limit)
        out: dict[str, wire.RunSummary] = {}
        for row in stored:
            out[row.run_id] = summary_from_journal(row, self._record_limit, with_record=False)
        for run in self._runs.values():  # live state beats what the journal has so far
            summary = run.summary or live_summary(run, self.host_id)
            out[run.run_id] = wire.RunSummary(**{**summary.__dict__, "record_json": ""})
        created = {r.run_id: r.created_ns for r in stored}
        created.update((r.run_id, r.created_ns) for r in self._runs.values())
        rows = sorted(out.values(), key=lambda s: (created.get(s.run_id, 0), s.run_id), reverse=True)
        return rows[:limit]

    async def watch(self, run_id: str, after_seq: int) -> AsyncIterator[list[Any]]:
        """Chunks of wire RunEvents after `after_seq`, ending after the summary."""
        run = self._runs.get(run_id)
        if run is None:
            stored = await self._stored(run_id)
            async for chunk in self._watch_stored(stored, after_seq):
                yield chunk
            return
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
        if after_seq >= stored.last_seq:
            return
        if after_seq < stored.last_seq - 1:
            raise RpcError(
                "OUT_OF_RANGE",
                f"run {stored.run_id}: its events ({after_seq + 1}..{stored.last_seq - 1}) are no longer "
                "buffered (it ended before this agent started, or long ago); fetch the rest with GetRun",
            )
        summary = summary_from_journal(stored, self._record_limit, with_record=True)
        yield [wire.run_event_proto(stored.last_seq, time.monotonic_ns(), summary)]

    @property
    def watchers(self) -> int:
        return self._watchers

    # --- internals -------------------------------------------------------------------------------

    async def _stored(self, run_id: str) -> StoredRun:
        if not run_id or len(run_id) > 200:
            raise RpcError("INVALID_ARGUMENT", "run_id is empty or too long; ListRuns shows the ids")
        stored = await self._in_io(self.journal.get, run_id)
        if stored is None:
            raise RpcError("NOT_FOUND", f"no run {run_id!r} on this agent; ListRuns shows the ids it knows")
        return stored  # type: ignore[no-any-return]

    def _publish(self, run: Run, body: wire.RunEventBody, t_ns: int | None = None) -> int:
        seq = run.log.last_seq + 1
        if isinstance(body, wire.PhaseChange):
            run.state = body.state
        if isinstance(body, wire.RunSummary):
            body = wire.RunSummary(**{**body.__dict__, "last_seq": seq})
            run.summary = body
        run.log.append(wire.run_event_proto(seq, t_ns or time.monotonic_ns(), body))
        return seq

    def _launch(self, run: Run) -> None:
        loop = asyncio.get_running_loop()
        self._busy[run.device] = run
        run.started_unix_ns = time.time_ns()
        run.bridge = EventBridge(loop, lambda items: self._on_items(run, items))
        self._io_submit(self.journal.set_state, run.run_id, "preparing", started_unix_ns=run.started_unix_ns)
        self._timers[run.run_id] = loop.call_later(self.config.max_run_s, self._time_out, run)
        run.thread = threading.Thread(target=self._thread_main, args=(run, loop), name=f"run-{run.run_id}", daemon=True)
        run.thread.start()

    def _time_out(self, run: Run) -> None:
        if not run.ended:
            run.timed_out = True
            run.cancel.set()
            self._publish(
                run,
                wire.Notice(
                    "warning",
                    f"the run reached the agent's limit of {self.config.max_run_s:g} s (max_run_s); stopping it",
                ),
            )

    def _thread_main(self, run: Run, loop: asyncio.AbstractEventLoop) -> None:
        record: Any = None
        error = ""
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

    def _on_items(self, run: Run, items: list[Item]) -> None:
        if run.ended:
            return
        finished: list[StoredQuery] = []
        for item in items:
            if isinstance(item, Tokens):
                request_id, token_index, t_ns = zip(*item.items, strict=True)  # columns, at C speed
                run.tokens_done += len(t_ns)
                self.metrics.count_output(tokens=len(t_ns))
                self._publish(run, wire.TokenBatch(request_id, token_index, t_ns), t_ns[-1])
                pending = run.pending_tokens
                for rid, idx, t in item.items:
                    pending.setdefault(rid, []).append((idx, t))
            elif isinstance(item, Queries):
                measured = [q for q in item.timings if not q.warmup]
                warm_tokens = sum(q.n_out for q in item.timings if q.warmup)  # warm-up sends no token events
                self.metrics.count_output(tokens=warm_tokens, queries=len(item.timings))
                for q in item.timings:
                    tokens = sorted(run.pending_tokens.pop(q.request_id, ()))
                    finished.append(
                        StoredQuery(
                            q.request_id,
                            q.scheduled_ns,
                            q.issued_ns,
                            q.first_token_ns,
                            q.done_ns,
                            q.n_out,
                            bool(q.warmup),
                            tuple(t for _, t in tokens),
                        )
                    )
                run.queries_done += len(measured)
                if measured:
                    self._publish(
                        run,
                        wire.QueryBatch(
                            tuple(q.request_id for q in measured),
                            tuple(q.scheduled_ns for q in measured),
                            tuple(q.issued_ns for q in measured),
                            tuple(q.first_token_ns for q in measured),
                            tuple(q.done_ns for q in measured),
                            tuple(q.n_out for q in measured),
                        ),
                    )
            elif isinstance(item, ProgressNote):
                self._publish(
                    run, wire.Progress(item.fraction, item.queries_done, item.tokens_done, item.elapsed_s), item.t_ns
                )
            elif isinstance(item, Phase):
                if item.state in PHASES and item.state not in wire.ENDED_STATES:
                    self._publish(run, wire.PhaseChange(item.state, item.detail), item.t_ns)
                    self._io_submit(self.journal.set_state, run.run_id, item.state)
                    self._update_metrics_state()
        if finished:
            self._io_submit(self.journal.add_queries, run.run_id, finished)
        now = time.monotonic()
        if now - run.journal_at >= JOURNAL_PROGRESS_S:
            run.journal_at = now
            self._io_submit(
                self.journal.progress,
                run.run_id,
                tokens_done=run.tokens_done,
                queries_done=run.queries_done,
                last_seq=run.log.last_seq,
            )

    def _finish(self, run: Run, record: Any, error: str, *, state: str | None = None) -> None:
        """End a run on the loop: final phase, summary event, journal, metrics, next queued run."""
        if run.ended:
            return
        timer = self._timers.pop(run.run_id, None)
        if timer is not None:
            timer.cancel()
        figures: list[dict[str, Any]] = []
        record_json = ""
        environment: dict[str, Any] | None = None
        if record is not None:
            state = state or str(getattr(record, "state", "completed"))
            figures = [dict(f) for f in getattr(record, "figures", [])]
            if isinstance(getattr(record, "labels", None), dict):  # the agent's labels, then the run's
                record.labels = {**record.labels, **run.labels}
            record_json = record.to_json()
            error = error or str(getattr(record, "error", "") or "")
            environment = dict(getattr(record, "environment", {}) or {})
        else:
            state = state or ("failed" if error else "cancelled")
        if run.timed_out:
            error = error or f"stopped at the agent's limit of {self.config.max_run_s:g} s"
        if run.stopping and state != "completed":
            state = "interrupted"
            error = error or "interrupted: the agent was stopped during the run"
        if state not in wire.ENDED_STATES:
            state = "failed"
        run.error = error
        run.ended_unix_ns = time.time_ns()
        self._publish(run, wire.PhaseChange(state, error))
        summary = wire.RunSummary(
            run_id=run.run_id,
            state=state,
            profile=run.prepared.profile.name,
            started_unix_ns=run.started_unix_ns,
            ended_unix_ns=run.ended_unix_ns,
            host_id=self.host_id,
            figures=tuple(wire.Figure.from_dict(f) for f in figures if is_figure(f)),
            error=error,
            record_json=wire.pack_record_json(record_json, self._record_limit),
            labels=dict(run.labels),
        )
        seq = self._publish(run, summary)
        run.log.close()
        run.pending_tokens.clear()
        self._io_submit(
            self.journal.progress, run.run_id, tokens_done=run.tokens_done, queries_done=run.queries_done, last_seq=seq
        )
        self._io_submit(
            self.journal.finish,
            run.run_id,
            state=state,
            ended_unix_ns=run.ended_unix_ns,
            figures=figures,
            record_json=record_json,
            error=error,
            last_seq=seq,
            environment=environment,
        )
        self.metrics.run_ended(run.run_id, run.prepared.profile.name, state, run.ended_unix_ns / 1e9, figures)
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

    def _update_metrics_state(self) -> None:
        active = next(iter(self._busy.values()), None)
        queued = sum(len(q) for q in self._waiting.values())
        if active is None:
            self.metrics.set_run_state("queued" if queued else "idle", "", queued)
        else:
            self.metrics.set_run_state(active.state, active.run_id, queued)
