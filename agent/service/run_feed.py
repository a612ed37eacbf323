"""From a running workload to events, journal rows and energy points, on the agent's loop.

`RunFeed.on_items` takes what the EventBridge hands over (tokens, finished queries, progress, phases),
publishes them as RunEvents, and queues the journal writes a crash recovery needs: every finished query,
the counters and the time of the last write (every JOURNAL_PROGRESS_S), and once a second the energy each
domain used since measuring started. `ensure_ceiling` keeps every sequence number sent below a ceiling
the journal already holds, so a crashed run's final event can be numbered above anything a client saw.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from wattfleet.agent.service.bridge import Item, Phase, ProgressNote, Queries, Tokens
from wattfleet.agent.service.journal import EnergyPoint
from wattfleet.agent.service.run_model import Run
from wattfleet.core.model import ENDED_STATES, PhaseChange, Progress, QueryBatch, TokenBatch

if TYPE_CHECKING:
    from wattfleet.agent.service.runs import RunManager

log = logging.getLogger("wattfleet.agent.runs")

PHASES = ("preparing", "warmup", "measuring", "completed", "failed", "cancelled")
JOURNAL_PROGRESS_S = 0.25
ENERGY_POINT_S = 1.0
SEQ_BLOCK = 10_000  # sequence numbers reserved in the journal at a time
SEQ_EARLY = SEQ_BLOCK // 2  # reserve the next block once this many of the current one are left


class RunFeed:
    def __init__(self, manager: RunManager) -> None:
        self.m = manager

    # --- sequence ceiling ----------------------------------------------------------------------

    def ensure_ceiling(self, run: Run, seq: int) -> None:
        """Before `seq` goes out: the journal holds a ceiling >= seq (reserved ahead, waited for rarely)."""
        if seq > run.seq_ceiling - SEQ_EARLY and run.ceiling_write is None:
            target = run.seq_ceiling + SEQ_BLOCK
            future = self.m.io_submit(self.m.journal.raise_seq_ceiling, run.run_id, target)
            if future is not None:
                run.ceiling_write = future

                def landed(_f: Any, run: Run = run, target: int = target) -> None:
                    run.seq_ceiling = max(run.seq_ceiling, target)
                    run.ceiling_write = None

                future.add_done_callback(landed)
        pending = run.ceiling_write
        if seq > run.seq_ceiling and pending is not None:
            pending.result(timeout=5.0)  # rare: SEQ_EARLY events went out before the write landed
            run.seq_ceiling = max(run.seq_ceiling, seq + SEQ_EARLY)

    # --- items from the workload -----------------------------------------------------------------

    def on_items(self, run: Run, items: list[Item]) -> None:
        if run.ended:
            return
        m = self.m
        finished = []
        for item in items:
            if isinstance(item, Tokens):
                query_id, token_index, t_ns = zip(*item.items, strict=True)  # columns, at C speed
                run.tokens_done += len(t_ns)
                m.metrics.count_output(tokens=len(t_ns))
                m.publish(run, TokenBatch(query_id, token_index, t_ns), t_ns[-1])
            elif isinstance(item, Queries):
                finished.extend(item.timings)
                measured = [q for q in item.timings if not q.warmup]
                warm_tokens = sum(q.n_out for q in item.timings if q.warmup)  # warm-up sends no token events
                m.metrics.count_output(tokens=warm_tokens, queries=len(item.timings))
                run.queries_done += len(measured)
                if measured:
                    m.publish(run, QueryBatch(
                        tuple(q.query_id for q in measured), tuple(q.scheduled_ns for q in measured),
                        tuple(q.issued_ns for q in measured), tuple(q.first_token_ns for q in measured),
                        tuple(q.done_ns for q in measured), tuple(q.n_out for q in measured),
                        tuple(q.samples for q in measured)))
            elif isinstance(item, ProgressNote):
                m.publish(run, Progress(item.fraction, item.queries_done, item.tokens_done, item.elapsed_s),
                          item.t_ns)
            elif isinstance(item, Phase):
                if item.state in PHASES and item.state not in ENDED_STATES:
                    m.publish(run, PhaseChange(item.state, item.detail), item.t_ns)
                    m.io_submit(m.journal.set_state, run.run_id, item.state)
                    if item.state == "measuring" and not run.measuring_mono_ns:
                        run.measuring_mono_ns = run.energy_at_ns = item.t_ns
                        m.io_submit(m.journal.set_window_start, run.run_id, item.t_ns)
                    m.update_metrics_state()
        if finished:
            m.io_submit(m.journal.add_queries, run.run_id, finished)
        now = time.monotonic()
        if now - run.journal_at >= JOURNAL_PROGRESS_S:
            run.journal_at = now
            m.io_submit(m.journal.progress, run.run_id, tokens_done=run.tokens_done, queries_done=run.queries_done,
                        last_seq=run.log.last_seq, last_unix_ns=time.time_ns(), last_mono_ns=time.monotonic_ns())

    # --- energy points ---------------------------------------------------------------------------

    def maybe_energy_point(self, run: Run) -> None:
        """Once a second while measuring: journal each domain's energy since measuring started (cumulative),
        computed on the I/O thread from the sampler's history."""
        sampler = self.m.sampler
        if sampler is None or not run.measuring_mono_ns or run.ended:
            return
        now = time.monotonic_ns()
        if now - run.energy_at_ns < ENERGY_POINT_S * 1e9:
            return
        t0, run.energy_at_ns = run.energy_at_ns, now
        self.m.io_submit(self._energy_point, run, sampler, t0, now)

    def _energy_point(self, run: Run, sampler: Any, t0_ns: int, t1_ns: int) -> None:
        windows = sampler.energy(t0_ns, t1_ns)
        if not run.energy_total:  # the first point: nothing used yet when measuring started
            zero = {d: 0.0 for d, w in windows.items() if w.energy_j is not None}
            self.m.journal.add_energy_point(run.run_id, EnergyPoint(t0_ns, zero))
        peak: dict[str, float] = {}
        method: dict[str, str] = {}
        rate: dict[str, float] = {}
        for domain, w in windows.items():
            if w.energy_j is None:
                continue
            run.energy_total[domain] = run.energy_total.get(domain, 0.0) + w.energy_j
            if w.power_peak_w is not None:
                peak[domain] = w.power_peak_w
            method[domain], rate[domain] = w.method, w.sample_rate_hz
        self.m.journal.add_energy_point(run.run_id, EnergyPoint(t1_ns, dict(run.energy_total), peak, method, rate))
