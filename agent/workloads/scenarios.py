"""Load scenarios: single-stream, server (open loop), offline, fixed concurrency (closed loop).

Each scenario drives queries through a `QueryExecutor` (one call to the runner: `batch_size` prompts
or samples), records raw timings in a thread-safe `Recorder`, and returns the measured window. A run
ends when its window spans min_duration_s AND min_queries are met ("limits met", judged on the window
the scenario reports), or when max_duration_s (from the start of the measured phase), max_queries or
cancel is hit; a cap stops the issuing of queries, and those in flight finish (as LoadGen does).
Warm-up queries run first, one at a time, and are recorded with warmup=True.
The sweep scenario (driver._sweep) runs server or concurrency once per value.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from wattfleet.agent.figures.latency import measured
from wattfleet.agent.figures.validity import inner_scenario, needed_queries
from wattfleet.agent.workloads.config import LoadConfig
from wattfleet.core.model.query import Query

PROMPT_POOL = 32  # distinct prompts per run, cycled (seeded, so runs are repeatable)
PROGRESS_INTERVAL_NS = 100_000_000  # at most 10 progress calls a second
SCHEDULER_SLICE_S = 0.05  # the server scheduler waits for an arrival in slices of at most this (cancel checks)


class RunObserver(Protocol):
    """Called from worker threads: implementations must be thread-safe and cheap."""

    def on_phase(self, state: str, detail: str = "") -> None: ...
    def on_progress(self, fraction: float, queries_done: int, tokens_done: int, elapsed_s: float) -> None: ...
    def on_token(self, query_id: int, token_index: int, t_ns: int) -> None: ...
    def on_query(self, q: Query) -> None: ...


@dataclass(frozen=True)
class Window:
    """The measured window of one scenario run, with how it ended."""

    t0_ns: int
    t1_ns: int
    ended_by: str  # "limits met", "max_duration_s", "max_queries", "cancelled", "failed"
    notes: tuple[str, ...] = ()  # what makes the window less than asked, e.g. "steady state not reached"


def arrival_offsets_ns(n: int, rate_qps: float, arrival: str, gamma_shape: float, seed: int) -> list[int]:
    """Scheduled arrival times (ns after the first) of n queries: seeded Poisson (exponential gaps)
    or Gamma gaps with the same mean 1/rate and coefficient of variation 1/sqrt(gamma_shape)."""
    if n <= 0:
        return []
    rng = np.random.default_rng(seed)
    mean_s = 1.0 / rate_qps
    if arrival == "gamma":
        gaps = rng.gamma(gamma_shape, mean_s / gamma_shape, size=n - 1)
    else:
        gaps = rng.exponential(mean_s, size=n - 1)
    offsets = np.concatenate(([0.0], np.cumsum(gaps))) * 1e9
    return [int(x) for x in offsets]


def resolve_load(load: LoadConfig) -> LoadConfig:
    """`load` with the values left to their defaults (None) filled in, so that the defaults can produce a
    valid run: min_queries from the claimed percentile (validity.needed_queries), max_duration_s long
    enough for it (see config.LoadConfig)."""
    if load.min_queries is not None and load.max_duration_s is not None:
        return load
    min_queries = load.min_queries if load.min_queries is not None else needed_queries(load)
    max_s = load.max_duration_s
    if max_s is None and inner_scenario(load) == "server":
        rates = load.sweep.values if load.scenario == "sweep" and load.sweep.over == "rate" else (load.rate_qps,)
        span_s = max(_server_span_ns(load, rate, min_queries) for rate in rates) / 1e9
        max_s = max(load.min_duration_s, span_s) * 1.1 + 1.0
    elif max_s is None:
        max_s = max(60.0, 2 * load.min_duration_s)
    return dataclasses.replace(load, min_queries=min_queries, max_duration_s=max_s)


def _server_span_ns(load: LoadConfig, rate_qps: float, min_queries: int) -> int:
    """When the seeded schedule first spans min_duration_s and holds min_queries arrivals (within
    max_queries arrivals, the most it may hold)."""
    min_ns = int(load.min_duration_s * 1e9)
    n = min(load.max_queries, max(2, min_queries, math.ceil(load.min_duration_s * rate_qps) + 1))
    while True:
        offsets = arrival_offsets_ns(n, rate_qps, load.arrival, load.gamma_shape, load.seed)
        if offsets[-1] >= min_ns or n >= load.max_queries:
            return next((off for i, off in enumerate(offsets) if off >= min_ns and i + 1 >= min_queries),
                        offsets[-1])
        n = min(load.max_queries, n * 2)


class Recorder:
    """Collects timings from worker threads, feeds the observer, and applies the stop rule."""

    def __init__(self, load: LoadConfig, observer: RunObserver | None, cancel: threading.Event,
                 label: str = "") -> None:
        self.load = resolve_load(load)
        self.label = label  # said with the "measuring" phase, e.g. "sweep rate=4 (2/5)"
        self.observer = observer
        self.cancel = cancel
        self.lock = threading.Lock()
        self.requests: list[Query] = []
        self.error: BaseException | None = None
        self.failed = threading.Event()
        self._next_id = 0
        self.measured = 0
        self.tokens = 0
        self.issued = 0  # measured requests handed to the runner (max_queries stops the issuing)
        self.last_done_ns = 0  # the latest measured completion
        self.begin_ns = 0  # when the measured phase started: max_duration_s counts from here
        self.start_ns = 0  # when the window started: min_duration_s counts from here (0 = not yet)
        self.cpu_before: Any = None  # the host CPU when measuring started (the driver's CpuMeter snapshot)
        self._last_progress_ns = 0

    def take_ids(self, k: int) -> int:
        with self.lock:
            base = self._next_id
            self._next_id += k
            return base

    def add(self, timings: list[Query]) -> None:
        with self.lock:
            self.requests.extend(timings)
            for t in timings:
                if not t.warmup:
                    self.measured += 1
                    self.tokens += t.n_out
                    self.last_done_ns = max(self.last_done_ns, t.done_ns)
        if self.observer is not None:
            for t in timings:
                self.observer.on_query(t)
            self._progress()

    def fail(self, exc: BaseException) -> None:
        with self.lock:
            if self.error is None:
                self.error = exc
        self.failed.set()

    def begin(self, start_ns: int | None = None) -> int:
        """Warm-up is over: the measured phase (and, unless the scenario moves it, the window) starts now
        (or at start_ns)."""
        self.begin_ns = self.start_ns = start_ns or time.monotonic_ns()
        if self.observer is not None:
            self.observer.on_phase("measuring", self.label)
        return self.begin_ns

    @property
    def min_queries(self) -> int:
        return self.load.min_queries or 0  # resolved in __init__

    @property
    def max_duration_s(self) -> float:
        return self.load.max_duration_s or 0.0  # resolved in __init__

    @property
    def cap_ns(self) -> int:
        """The moment max_duration_s is reached."""
        return self.begin_ns + int(self.max_duration_s * 1e9)

    def elapsed_s(self, now_ns: int | None = None) -> float:
        if not self.begin_ns:
            return 0.0
        return ((now_ns or time.monotonic_ns()) - self.begin_ns) / 1e9

    def fraction(self) -> float:
        ld = self.load
        e = self.elapsed_s()
        w = (time.monotonic_ns() - self.start_ns) / 1e9 if self.start_ns else 0.0
        need = min(w / ld.min_duration_s if ld.min_duration_s else 1.0,
                   self.measured / self.min_queries if self.min_queries else 1.0)
        return max(0.0, min(1.0, max(need, e / self.max_duration_s, self.measured / ld.max_queries)))

    def reserve(self, k: int) -> bool:
        """Count k requests as issued unless that would pass max_queries. Call with the lock held."""
        if self.issued + k > self.load.max_queries:
            return False
        self.issued += k
        return True

    def _progress(self) -> None:
        now = time.monotonic_ns()
        if self.observer is None or now - self._last_progress_ns < PROGRESS_INTERVAL_NS or not self.start_ns:
            return
        self._last_progress_ns = now
        self.observer.on_progress(self.fraction(), self.measured, self.tokens, self.elapsed_s(now))

    def stop_reason(self) -> str:
        """Why the measured phase should end now, or "" to go on. "limits met" is judged on the window
        [start_ns, last completion], the one single-stream and offline report."""
        if self.failed.is_set():
            return "failed"
        if self.cancel.is_set():
            return "cancelled"
        ld = self.load
        if self.measured >= ld.max_queries:
            return "max_queries"
        if self.begin_ns and time.monotonic_ns() >= self.cap_ns:
            return "max_duration_s"
        window_ns = self.last_done_ns - self.start_ns if self.start_ns else -1
        if window_ns >= ld.min_duration_s * 1e9 and self.measured >= self.min_queries:
            return "limits met"
        return ""


class QueryExecutor:
    """One query = one runner call: `batch_size` prompts (one request each) or one batched inference.

    Prompts come from the profile's `source` (traffic/source.py: the user's items, length distributions or
    a trace, stopping at EOS) or, without one, from a pool of PROMPT_POOL seeded random prompts of
    load.prompt_tokens, each run to load.output_tokens."""

    def __init__(self, runner: Any, load: LoadConfig, recorder: Recorder, source: Any = None) -> None:
        self.runner = runner
        self.load = resolve_load(load)
        self.recorder = recorder
        self.source = source
        self.generative = runner.kind == "generative"
        self.prompts: list[list[int]] = []
        if self.generative and source is None:
            self.prompts = runner.make_prompts(PROMPT_POOL, load.prompt_tokens, load.seed)

    def run(self, scheduled_ns: int, warmup: bool, on_issue: Callable[[int], None] | None = None, *,
            prompt_ids: Sequence[int] | None = None,
            on_token: Callable[[int, int, int], None] | None = None,
            request_index: int | None = None) -> list[Query]:
        """Issue one query now; records and returns its timings. Thread-safe. `on_issue` is called
        with the issue time just before the runner is called.

        A harness that chooses the samples passes `prompt_ids` (indices into the prompt pool, one per
        prompt of the query; a fixed-shape query then counts len(prompt_ids) samples) and `on_token`
        (called as (prompt index in the query, token index, t_ns) for every token). `request_index` is
        what the source draws query n from (default: the query id; a replayed arrival passes its trace row)."""
        batch = self.load.batch_size if prompt_ids is None else len(prompt_ids)
        if not self.generative:
            rid = self.recorder.take_ids(1)
            issued = time.monotonic_ns()
            if on_issue is not None:
                on_issue(issued)
            self.runner.infer(self.load.batch_size)  # a fixed batch dimension takes its full batch
            done = time.monotonic_ns()
            timings = [Query(rid, scheduled_ns, issued, done, (), warmup, samples=batch)]
            self.recorder.add(timings)
            return timings
        base = self.recorder.take_ids(batch)
        source = self.source if prompt_ids is None else None
        requests: list[Any] = []
        if source is not None:
            first = base if request_index is None else request_index
            requests = [source.request(first + i) for i in range(batch)]
            prompts: Sequence[Sequence[int]] = [r.ids for r in requests]
        else:
            ids = list(prompt_ids) if prompt_ids is not None else [base + i for i in range(batch)]
            prompts = [self.prompts[i % len(self.prompts)] for i in ids]
        stamps: list[list[int]] = [[] for _ in range(batch)]
        observer = self.recorder.observer

        def token(b: int, k: int, t_ns: int) -> None:
            stamps[b].append(t_ns)
            if on_token is not None:
                on_token(b, k, t_ns)
            if observer is not None and not warmup:
                observer.on_token(base + b, k, t_ns)

        issued = time.monotonic_ns()
        if on_issue is not None:
            on_issue(issued)
        if source is not None:
            outputs = self.runner.generate(prompts, [r.max_new_tokens for r in requests], token,
                                           source.eos_ids or None)
        else:
            outputs = self.runner.generate(prompts, self.load.output_tokens, token)
        end = time.monotonic_ns()
        timings = []
        for b in range(batch):
            toks = tuple(stamps[b])
            if len(toks) != len(outputs[b]):
                raise RuntimeError(f"runner reported {len(toks)} token times for {len(outputs[b])} tokens")
            q = Query(base + b, scheduled_ns, issued, toks[-1] if toks else end, toks, warmup)
            if source is not None:  # graded after the last token: outside every latency
                a = source.grade(requests[b], outputs[b])
                q = dataclasses.replace(q, item_id=a.item_id, correct=a.correct, output_ids=a.output_ids)
            timings.append(q)
        self.recorder.add(timings)
        return timings

    @property
    def requests_per_query(self) -> int:
        """Requests one query records: one per prompt (generative), one per inference (fixed-shape)."""
        return self.load.batch_size if self.generative else 1


def _warmup(ex: QueryExecutor) -> None:
    for _ in range(ex.load.warmup_queries):
        if ex.recorder.cancel.is_set():
            return
        now = time.monotonic_ns()
        ex.run(now, warmup=True)


def _guarded(rec: Recorder, fn: Callable[[], None]) -> Callable[[], None]:
    def wrapped() -> None:
        try:
            fn()
        except BaseException as exc:  # handed to the driver, which fails the run with it
            rec.fail(exc)

    return wrapped


def _issue_allowed(ex: QueryExecutor) -> bool:
    with ex.recorder.lock:
        return ex.recorder.reserve(ex.requests_per_query)


def run_single_stream(ex: QueryExecutor) -> Window:
    """One query at a time; window = first issue to last completion (METRICS.md)."""
    rec = ex.recorder
    _warmup(ex)
    rec.begin()
    t0 = t1 = 0
    reason = rec.stop_reason()
    while not reason:
        if not _issue_allowed(ex):
            reason = "max_queries"
            break
        timings = ex.run(time.monotonic_ns(), warmup=False)
        if not t0:
            t0 = rec.start_ns = timings[0].issued_ns  # the window, and min_duration_s, start here
        t1 = max(t.done_ns for t in timings)
        reason = rec.stop_reason()
    return Window(t0 or rec.begin_ns, t1 or rec.begin_ns, reason)


def run_offline(ex: QueryExecutor) -> Window:
    """Every query is available at t0 (scheduled_ns = t0) and issued back to back in batches of
    batch_size by `concurrency` streams, for maximum throughput; window = t0 to last completion."""
    rec = ex.recorder
    _warmup(ex)
    t0 = rec.begin()

    def stream() -> None:
        while not rec.stop_reason() and _issue_allowed(ex):
            ex.run(t0, warmup=False)

    _run_threads(rec, [stream] * max(1, ex.load.concurrency))
    return Window(t0, max(t0, rec.last_done_ns), rec.stop_reason() or "max_queries")


def steady_state_start(requests: list[Query], n: int) -> int | None:
    """The first moment n measured requests were in flight (from their issue and done times), or None.
    A completion and an issue at the same ns count the completion first."""
    events = sorted([(r.issued_ns, 1) for r in requests if not r.warmup]
                    + [(r.done_ns, -1) for r in requests if not r.warmup])
    level = 0
    for t, step in events:
        level += step
        if level >= n:
            return t
    return None


def run_concurrency(ex: QueryExecutor) -> Window:
    """N closed-loop clients. Window = steady state: from the first moment N queries are in flight to the
    completion at which the stop rule fired (the first of the drain: no client refills), or to the cap.
    max_duration_s and max_queries hold from the start of the measured phase, steady or not; a run that
    never had N in flight says "steady state not reached" and its window is the whole measured phase."""
    rec, ld = ex.recorder, ex.recorder.load
    n = max(1, ld.concurrency)
    need = n * ex.requests_per_query  # a generative query records one request per prompt
    _warmup(ex)
    rec.begin()
    rec.start_ns = 0  # the window starts at the steady state, once the recorded timings show it
    state: dict[str, Any] = {"in_flight": 0, "peak": 0, "t1": 0, "reason": ""}

    def on_issue(t_ns: int) -> None:
        with rec.lock:
            state["in_flight"] += 1
            state["peak"] = max(state["peak"], state["in_flight"])

    def end(reason: str, t1_ns: int) -> str:
        if not state["reason"]:
            state["reason"], state["t1"] = reason, t1_ns
        return str(state["reason"])

    def decide() -> str:
        """The stop rule, with rec.lock held: "limits met" only once the recorded timings show N in
        flight and the steady window up to the latest completion spans min_duration_s."""
        if state["reason"]:
            return str(state["reason"])
        if rec.failed.is_set() or rec.cancel.is_set():
            return end("failed" if rec.failed.is_set() else "cancelled", rec.last_done_ns)
        if time.monotonic_ns() >= rec.cap_ns:
            return end("max_duration_s", rec.cap_ns)
        if not rec.start_ns and state["peak"] >= n:  # live count says steady: check the timings
            rec.start_ns = steady_state_start(rec.requests, need) or 0
        if (rec.start_ns and rec.measured >= rec.min_queries
                and rec.last_done_ns - rec.start_ns >= ld.min_duration_s * 1e9):
            return end("limits met", rec.last_done_ns)
        return ""

    def client() -> None:
        barrier.wait(timeout=60)
        while True:
            with rec.lock:
                if decide():
                    return
                if not rec.reserve(ex.requests_per_query):
                    end("max_queries", rec.last_done_ns)
                    return
            ex.run(time.monotonic_ns(), warmup=False, on_issue=on_issue)
            with rec.lock:
                state["in_flight"] -= 1

    barrier = threading.Barrier(n)
    threads = _start_threads(rec, [client] * n)
    alive = threads
    while alive:  # the cap holds even while every client waits on a slow query
        alive[0].join(0.05)
        if time.monotonic_ns() >= rec.cap_ns or rec.cancel.is_set() or rec.failed.is_set():
            with rec.lock:
                decide()
        alive = [t for t in alive if t.is_alive()]
    with rec.lock:
        requests = list(rec.requests)
        reason = str(state["reason"]) or rec.stop_reason() or "failed"
    t0 = steady_state_start(requests, need)
    notes: tuple[str, ...] = ()
    if t0 is None:
        notes = (f"steady state not reached: {n} queries were never in flight at once",)
        t0 = rec.begin_ns
    return Window(t0, max(int(state["t1"]), t0), reason, notes)


def server_schedule(load: LoadConfig) -> list[int]:
    """LoadGen's rule: arrivals until the schedule spans min_duration_s AND holds min_queries, within
    max_queries and max_duration_s. Offsets in ns from the first arrival; the same for the same seed."""
    load = resolve_load(load)
    min_queries = load.min_queries or 0
    min_ns, max_ns = int(load.min_duration_s * 1e9), int((load.max_duration_s or 0.0) * 1e9)
    n = max(2, min(load.max_queries, max(min_queries, math.ceil(load.min_duration_s * load.rate_qps) + 1)))
    while True:
        offsets = arrival_offsets_ns(n, load.rate_qps, load.arrival, load.gamma_shape, load.seed)
        if offsets[-1] >= min_ns or n >= load.max_queries or offsets[-1] > max_ns:
            break
        n = min(load.max_queries, n * 2)
    for i, off in enumerate(offsets):
        if (off >= min_ns and i + 1 >= min_queries) or off > max_ns:
            return offsets[: i + 1] if off <= max_ns else offsets[:i]
    return offsets


def run_server(ex: QueryExecutor) -> tuple[Window, list[int]]:
    """Open loop: a scheduler issues queries at seeded Poisson/Gamma times, or at a trace's replayed
    arrivals, to a bounded worker pool (server_workers); a query waiting for a worker keeps its scheduled
    time, so ttft counts queueing. The scheduler wakes at each arrival (waiting in slices of at most
    SCHEDULER_SLICE_S, so that a cancel is seen). Window = first scheduled arrival to the first completion
    after the last arrival (the drain). Returns the window and the scheduled offsets used."""
    rec, ld = ex.recorder, ex.load
    _warmup(ex)
    replay = ex.source is not None and ex.source.replays_arrivals
    offsets = ex.source.schedule_ns(ld) if replay else server_schedule(ld)
    t0 = rec.begin(time.monotonic_ns() + 1_000_000)  # 1 ms for the pool to start
    max_ns = int(rec.max_duration_s * 1e9)
    issued_sched: list[int] = []
    workers = ld.server_workers
    if not workers:  # 0 = auto; run_profile has chosen already (and recorded why), direct callers get the same rule
        from wattfleet.agent.workloads.runners.plan import server_workers

        workers = server_workers(0, ex.runner.runtime)[0]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wattfleet-server") as pool:
        for i, off in enumerate(offsets):
            if off > max_ns:
                break
            target = t0 + off
            while True:
                if rec.failed.is_set() or rec.cancel.is_set():
                    break
                delay = (target - time.monotonic_ns()) / 1e9
                if delay <= 0:
                    break
                rec.cancel.wait(min(delay, SCHEDULER_SLICE_S))
            if rec.failed.is_set() or rec.cancel.is_set():
                break
            issued_sched.append(target)
            pool.submit(_guarded(rec, _scheduled_query(ex, target, i if replay else None)))
    last_arrival = issued_sched[-1] if issued_sched else t0
    with rec.lock:
        dones = [r.done_ns for r in rec.requests if not r.warmup and r.done_ns >= last_arrival]
    t1 = min(dones) if dones else max([t0, *(r.done_ns for r in rec.requests)])
    if rec.failed.is_set():
        reason = "failed"
    elif rec.cancel.is_set():
        reason = "cancelled"
    elif t1 - t0 >= ld.min_duration_s * 1e9 and len(measured(rec.requests)) >= rec.min_queries:
        reason = "limits met"  # judged on the window reported: first arrival to the drain's first completion
    elif replay and len(offsets) < ld.max_queries and len(offsets) == len(ex.source.files.trace.rows):
        reason = "trace ended"  # replayed once, never looped: the minimums were not reached
        notes = (f"the trace ended after {len(offsets)} arrivals over {offsets[-1] / 1e9:.3g} s (scaled), "
                 "before min_queries and min_duration_s were met",)
        return Window(t0, t1, reason, notes), [s - t0 for s in issued_sched]
    else:  # the schedule was cut short by a cap
        reason = "max_queries" if len(offsets) >= ld.max_queries else "max_duration_s"
    return Window(t0, t1, reason), [s - t0 for s in issued_sched]


def _scheduled_query(ex: QueryExecutor, scheduled_ns: int, index: int | None = None) -> Callable[[], None]:
    def issue() -> None:
        if not ex.recorder.cancel.is_set():  # a cancelled run leaves queued queries unissued
            ex.run(scheduled_ns, warmup=False, request_index=index)

    return issue


def _start_threads(rec: Recorder, targets: list[Callable[[], None]]) -> list[threading.Thread]:
    threads = [threading.Thread(target=_guarded(rec, fn), name=f"wattfleet-load-{i}", daemon=True)
               for i, fn in enumerate(targets)]
    for t in threads:
        t.start()
    return threads


def _run_threads(rec: Recorder, targets: list[Callable[[], None]]) -> None:
    for t in _start_threads(rec, targets):
        t.join()
