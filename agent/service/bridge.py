"""From the workload's threads to the event loop, without ever making the workload wait.

`EventBridge` is the RunObserver the engine calls from its worker threads. It only appends to a list
under a lock; when a batch is full (4096 tokens), its oldest token is 10 ms old, or the loop's ticker
asks (every 20 ms, for a stream that went quiet), it swaps the list out and hands it to the loop with
one `call_soon_threadsafe`. Phase changes flush what is
pending first, so the loop sees events in the order they happened.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Tokens:
    items: list[tuple[int, int, int]]  # (query_id, token_index, t_ns), in arrival order


@dataclass(frozen=True)
class Queries:
    timings: list[Any]  # the engine's Query objects


@dataclass(frozen=True)
class ProgressNote:
    fraction: float
    queries_done: int
    tokens_done: int
    elapsed_s: float
    t_ns: int


@dataclass(frozen=True)
class Phase:
    state: str
    detail: str
    t_ns: int


Item = Tokens | Queries | ProgressNote | Phase
Sink = Callable[[list[Item]], None]


class EventBridge:
    """RunObserver for one run. `sink` runs on the loop with a list of items, in order."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sink: Sink,
        *,
        max_tokens: int = 4096,
        max_age_s: float = 0.010,
        max_queries: int = 512,
    ) -> None:
        self._loop = loop
        self._sink = sink
        self._max_tokens = max_tokens
        self._max_age_ns = int(max_age_s * 1e9)
        self._max_queries = max_queries
        self._lock = threading.Lock()
        self._tokens: list[tuple[int, int, int]] = []
        self._queries: list[Any] = []
        self._progress: ProgressNote | None = None
        self._closed = False

    # --- RunObserver (worker threads) ------------------------------------------------------------

    def on_token(self, query_id: int, token_index: int, t_ns: int) -> None:
        # The hot path (once per token, in the workload's thread): one tuple, one append, no allocation
        # of events; explicit acquire/release is measurably cheaper than `with` here.
        lock = self._lock
        lock.acquire()
        try:
            tokens = self._tokens
            tokens.append((query_id, token_index, t_ns))
            # By count, or by age measured with the token's own timestamp (no extra clock read).
            if len(tokens) >= self._max_tokens or t_ns - tokens[0][2] >= self._max_age_ns:
                self._flush_locked()
        finally:
            lock.release()

    def on_query(self, q: Any) -> None:
        with self._lock:
            self._queries.append(q)
            if len(self._queries) >= self._max_queries:
                self._flush_locked()

    def on_progress(self, fraction: float, queries_done: int, tokens_done: int, elapsed_s: float) -> None:
        note = ProgressNote(fraction, queries_done, tokens_done, elapsed_s, time.monotonic_ns())
        with self._lock:
            self._progress = note  # coalesced: only the newest is sent, at the next flush

    def on_phase(self, state: str, detail: str = "") -> None:
        with self._lock:
            self._flush_locked([Phase(state, detail, time.monotonic_ns())])

    # --- either side -----------------------------------------------------------------------------

    def flush(self) -> None:
        """Hand over whatever is pending (the loop's ticker calls this every few ms)."""
        with self._lock:
            self._flush_locked()

    def close(self) -> None:
        """Flush and stop handing anything over (late callbacks from a stray thread are dropped)."""
        with self._lock:
            self._flush_locked()
            self._closed = True

    def _flush_locked(self, tail: list[Item] | None = None) -> None:
        if self._closed:
            return
        items: list[Item] = []
        if self._tokens:
            items.append(Tokens(self._tokens))
            self._tokens = []
        if self._queries:
            items.append(Queries(self._queries))
            self._queries = []
        if self._progress is not None:
            items.append(self._progress)
            self._progress = None
        if tail:
            items.extend(tail)
        if items:
            try:
                self._loop.call_soon_threadsafe(self._sink, items)
            except RuntimeError:  # the loop is closed: the agent is going down, nothing to deliver to
                self._closed = True
