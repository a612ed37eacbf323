"""Load scenarios: single-stream, server (open loop), offline, fixed concurrency (closed loop).

Each scenario drives queries through a `QueryExecutor` (one call to the runner: `batch_size` prompts
or samples), records raw timings in a thread-safe `Recorder`, and returns the measured window. A run
ends when min_duration_s AND min_queries are both met, or when max_duration_s, max_queries or cancel
is hit. Warm-up queries run first, one at a time, and are recorded with warmup=True.
The sweep scenario (driver._sweep) runs server or concurrency once per value.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from wattfleet.agent.workloads.config import LoadConfig
from wattfleet.agent.workloads.metrics import RequestTiming, measured

PROMPT_POOL = 32  # distinct prompts per run, cycled (seeded, so runs are repeatable)
PROGRESS_INTERVAL_NS = 100_000_000  # at most 10 progress calls a second


@dataclass(frozen=True)
class QueryTiming:
    """One finished request as the observer sees it (all times monotonic ns; first_token_ns 0 for
    fixed-shape inference)."""

    request_id: int
    scheduled_ns: int
    issued_ns: int
    first_token_ns: int
    done_ns: int
    n_out: int
    warmup: bool


class RunObserver(Protocol):
    """Called from worker threads: implementations must be thread-safe and cheap."""

    def on_phase(self, state: str, detail: str = "") -> None: ...
    def on_progress(self, fraction: float, queries_done: int, tokens_done: int, elapsed_s: float) -> None: ...
    def on_token(self, request_id: int, token_index: int, t_ns: int) -> None: ...
    def on_query(self, q: QueryTiming) -> None: ...


@dataclass(frozen=True)
class Window:
    """The measured window of one scenario run, with how it ended."""

    t0_ns: int
    t1_ns: int
    ended_by: str  # "limits met", "max_duration_s", "max_queries", "cancelled", "failed"


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


class Recorder:
    """Collects timings from worker threads, feeds the observer, and applies the stop rule."""

    def __init__(self, load: LoadConfig, observer: RunObserver | None, cancel: threading.Event,
                 label: str = "") -> None:
        self.load = load
        self.label = label  # said with the "measuring" phase, e.g. "sweep rate=4 (2/5)"
        self.observer = observer
        self.cancel = cancel
        self.lock = threading.Lock()
        self.requests: list[RequestTiming] = []
        self.error: BaseException | None = None
        self.failed = threading.Event()
        self._next_id = 0
        self.measured = 0
        self.tokens = 0
        self.start_ns = 0  # when the measured phase started (set by the scenario)
        self._last_progress_ns = 0

    def take_ids(self, k: int) -> int:
        with self.lock:
            base = self._next_id
            self._next_id += k
            return base

    def add(self, timings: list[RequestTiming]) -> None:
        with self.lock:
            self.requests.extend(timings)
            for t in timings:
                if not t.warmup:
                    self.measured += 1
                    self.tokens += t.n_out
        if self.observer is not None:
            for t in timings:
                self.observer.on_query(QueryTiming(t.request_id, t.scheduled_ns, t.issued_ns,
                                                   t.first_token_ns, t.done_ns, t.n_out, t.warmup))
            self._progress()

    def fail(self, exc: BaseException) -> None:
        with self.lock:
            if self.error is None:
                self.error = exc
        self.failed.set()

    def begin(self, start_ns: int | None = None) -> int:
        """Warm-up is over: the measured phase starts now (or at start_ns)."""
        self.start_ns = start_ns or time.monotonic_ns()
        if self.observer is not None:
            self.observer.on_phase("measuring", self.label)
        return self.start_ns

    def elapsed_s(self, now_ns: int | None = None) -> float:
        if not self.start_ns:
            return 0.0
        return ((now_ns or time.monotonic_ns()) - self.start_ns) / 1e9

    def fraction(self) -> float:
        ld = self.load
        e = self.elapsed_s()
        need = min(e / ld.min_duration_s if ld.min_duration_s else 1.0,
                   self.measured / ld.min_queries if ld.min_queries else 1.0)
        return max(0.0, min(1.0, max(need, e / ld.max_duration_s, self.measured / ld.max_queries)))

    def _progress(self) -> None:
        now = time.monotonic_ns()
        if self.observer is None or now - self._last_progress_ns < PROGRESS_INTERVAL_NS or not self.start_ns:
            return
        self._last_progress_ns = now
        self.observer.on_progress(self.fraction(), self.measured, self.tokens, self.elapsed_s(now))

    def stop_reason(self) -> str:
        """Why the measured phase should end now, or "" to go on."""
        if self.failed.is_set():
            return "failed"
        if self.cancel.is_set():
            return "cancelled"
        ld, e = self.load, self.elapsed_s()
        if self.measured >= ld.max_queries:
            return "max_queries"
        if e >= ld.max_duration_s:
            return "max_duration_s"
        if e >= ld.min_duration_s and self.measured >= ld.min_queries:
            return "limits met"
        return ""


class QueryExecutor:
    """One query = one runner call: `batch_size` prompts (one request each) or one batched inference."""

    def __init__(self, runner: Any, load: LoadConfig, recorder: Recorder) -> None:
        self.runner = runner
        self.load = load
        self.recorder = recorder
        self.generative = runner.kind == "generative"
        self.prompts: list[list[int]] = []
        if self.generative:
            self.prompts = runner.make_prompts(PROMPT_POOL, load.prompt_tokens, load.seed)

    def run(self, scheduled_ns: int, warmup: bool,
            on_issue: Callable[[int], None] | None = None) -> list[RequestTiming]:
        """Issue one query now; records and returns its timings. Thread-safe. `on_issue` is called
        with the issue time just before the runner is called."""
        batch = self.load.batch_size
        if not self.generative:
            rid = self.recorder.take_ids(1)
            issued = time.monotonic_ns()
            if on_issue is not None:
                on_issue(issued)
            self.runner.infer(batch)
            done = time.monotonic_ns()
            timings = [RequestTiming(rid, scheduled_ns, issued, done, (), warmup, samples=batch)]
            self.recorder.add(timings)
            return timings
        base = self.recorder.take_ids(batch)
        prompts = [self.prompts[(base + i) % len(self.prompts)] for i in range(batch)]
        stamps: list[list[int]] = [[] for _ in range(batch)]
        observer = self.recorder.observer

        def on_token(b: int, k: int, t_ns: int) -> None:
            stamps[b].append(t_ns)
            if observer is not None and not warmup:
                observer.on_token(base + b, k, t_ns)

        issued = time.monotonic_ns()
        if on_issue is not None:
            on_issue(issued)
        outputs = self.runner.generate(prompts, self.load.output_tokens, on_token)
        end = time.monotonic_ns()
        timings = []
        for b in range(batch):
            toks = tuple(stamps[b])
            if len(toks) != len(outputs[b]):
                raise RuntimeError(f"runner reported {len(toks)} token times for {len(outputs[b])} tokens")
            timings.append(RequestTiming(base + b, scheduled_ns, issued, toks[-1] if toks else end, toks,
                                         warmup))
        self.recorder.add(timings)
        return timings


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


def run_single_stream(ex: QueryExecutor) -> Window:
    """One query at a time; window = first issue to last completion (METRICS.md)."""
    rec = ex.recorder
    _warmup(ex)
    rec.begin()
    t0 = t1 = 0
    reason = rec.stop_reason()
    while not reason:
        timings = ex.run(time.monotonic_ns(), warmup=False)
        t0 = t0 or timings[0].issued_ns
        t1 = max(t.done_ns for t in timings)
        reason = rec.stop_reason()
    return Window(t0 or rec.start_ns, t1 or rec.start_ns, reason)


def run_offline(ex: QueryExecutor) -> Window:
    """Every query is available at t0 (scheduled_ns = t0) and issued back to back in batches of
    batch_size by `concurrency` streams, for maximum throughput; window = t0 to last completion."""
    rec = ex.recorder
    _warmup(ex)
    t0 = rec.begin()
    last = [t0]

    def stream() -> None:
        while not rec.stop_reason():
            timings = ex.run(t0, warmup=False)
            with rec.lock:
                last[0] = max(last[0], *(t.done_ns for t in timings))

    _run_threads(rec, [stream] * max(1, ex.load.concurrency))
    return Window(t0, last[0], rec.stop_reason())


def steady_state_start(requests: list[RequestTiming], n: int) -> int | None:
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
    """N closed-loop clients. Window = steady state: from the moment N queries are in flight to the
    completion at which the stop rule fired (the first request of the drain: no client refills)."""
    rec = ex.recorder
    n = max(1, ex.load.concurrency)
    _warmup(ex)
    rec.begin()
    state: dict[str, Any] = {"in_flight": 0, "steady": False, "t1": 0, "reason": ""}
    barrier = threading.Barrier(n)

    def on_issue(t_ns: int) -> None:
        with rec.lock:
            state["in_flight"] += 1
            if state["in_flight"] >= n and not state["steady"]:
                state["steady"] = True
                rec.start_ns = t_ns  # min_duration_s counts from the steady state

    def client() -> None:
        barrier.wait(timeout=60)
        while True:
            with rec.lock:
                if state["reason"]:
                    return
            timings = ex.run(time.monotonic_ns(), warmup=False, on_issue=on_issue)
            with rec.lock:
                state["in_flight"] -= 1
            reason = rec.stop_reason() if state["steady"] else ""
            if not reason and (rec.failed.is_set() or rec.cancel.is_set()):
                reason = rec.stop_reason()
            with rec.lock:
                if reason and not state["reason"]:
                    state["reason"] = reason
                    state["t1"] = max(t.done_ns for t in timings)

    _run_threads(rec, [client] * n)
    with rec.lock:
        requests = list(rec.requests)
    per_query = ex.load.batch_size if ex.generative else 1  # a generative query records one request per prompt
    t0 = steady_state_start(requests, n * per_query) or rec.start_ns
    return Window(t0, max(int(state["t1"]), t0), str(state["reason"] or rec.stop_reason()))


def server_schedule(load: LoadConfig) -> list[int]:
    """LoadGen's rule: arrivals until the schedule spans min_duration_s AND holds min_queries, within
    max_queries and max_duration_s. Offsets in ns from the first arrival; the same for the same seed."""
    min_ns, max_ns = int(load.min_duration_s * 1e9), int(load.max_duration_s * 1e9)
    n = max(2, min(load.max_queries, max(load.min_queries, math.ceil(load.min_duration_s * load.rate_qps) + 1)))
    while True:
        offsets = arrival_offsets_ns(n, load.rate_qps, load.arrival, load.gamma_shape, load.seed)
        if offsets[-1] >= min_ns or n >= load.max_queries or offsets[-1] > max_ns:
            break
        n = min(load.max_queries, n * 2)
    for i, off in enumerate(offsets):
        if (off >= min_ns and i + 1 >= load.min_queries) or off > max_ns:
            return offsets[: i + 1] if off <= max_ns else offsets[:i]
    return offsets


def run_server(ex: QueryExecutor) -> tuple[Window, list[int]]:
    """Open loop: a scheduler issues queries at seeded Poisson/Gamma times to a bounded worker pool
    (server_workers); a query waiting for a worker keeps its scheduled time, so ttft counts queueing.
    Window = first scheduled arrival to the first completion after the last arrival (the drain).
    Returns the window and the scheduled offsets used."""
    rec, ld = ex.recorder, ex.load
    _warmup(ex)
    offsets = server_schedule(ld)
    t0 = rec.begin(time.monotonic_ns() + 1_000_000)  # 1 ms for the pool to start
    max_ns = int(ld.max_duration_s * 1e9)
    issued_sched: list[int] = []
    workers = ld.server_workers
    if not workers:  # 0 = auto; run_profile has chosen already (and recorded why), direct callers get the same rule
        from wattfleet.agent.workloads.runners.plan import server_workers

        workers = server_workers(0, ex.runner.runtime)[0]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wattfleet-server") as pool:
        for off in offsets:
            if off > max_ns:
                break
            target = t0 + off
            while True:
                if rec.failed.is_set() or rec.cancel.is_set():
                    break
                delay = (target - time.monotonic_ns()) / 1e9
                if delay <= 0:
                    break
                rec.cancel.wait(min(delay, 0.05))
            if rec.failed.is_set() or rec.cancel.is_set():
                break
            issued_sched.append(target)
            pool.submit(_guarded(rec, _scheduled_query(ex, target)))
    last_arrival = issued_sched[-1] if issued_sched else t0
    with rec.lock:
        dones = [r.done_ns for r in rec.requests if not r.warmup and r.done_ns >= last_arrival]
    t1 = min(dones) if dones else max([t0, *(r.done_ns for r in rec.requests)])
    if rec.failed.is_set():
        reason = "failed"
    elif rec.cancel.is_set():
        reason = "cancelled"
    elif len(issued_sched) < len(offsets) or offsets[-1] < ld.min_duration_s * 1e9:
        reason = "max_duration_s" if len(offsets) < ld.max_queries else "max_queries"
    else:
        reason = "max_queries" if len(measured(rec.requests)) < ld.min_queries else "limits met"
    return Window(t0, t1, reason), [s - t0 for s in issued_sched]


def _scheduled_query(ex: QueryExecutor, scheduled_ns: int) -> Callable[[], None]:
    def issue() -> None:
        if not ex.recorder.cancel.is_set():  # a cancelled run leaves queued queries unissued
            ex.run(scheduled_ns, warmup=False)

    return issue


def _run_threads(rec: Recorder, targets: list[Callable[[], None]]) -> None:
    threads = [threading.Thread(target=_guarded(rec, fn), name=f"wattfleet-load-{i}", daemon=True)
               for i, fn in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
