"""Sequenced event logs: a bounded ring that many readers follow by cursor.

One EventLog per run (and one for telemetry). Items get sequence numbers 1, 2, 3, ... in append order.
Readers do not get a queue each: a reader is a cursor (the last sequence number it has), so a writer
never waits for anyone and a slow reader costs nothing but its cursor. A reader that falls more than
`capacity` items behind finds its next item gone and is told so (FellBehind); a reader that asks to
resume from a point already gone is told so at once (ResumeGone). Both say how to get the rest.

Everything here runs on one asyncio loop: `append` must be called on the loop's thread (the run
manager hands worker-thread events over with `loop.call_soon_threadsafe`).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

from wattfleet.core.errors import WattfleetError

T = TypeVar("T")


class ResumeGone(WattfleetError):
    """The requested resume point is older than what the ring still holds."""


class FellBehind(WattfleetError):
    """A reader lagged so far that the ring overwrote events it had not read yet."""


class EventLog(Generic[T]):
    """Append-only, bounded, sequenced. Readers follow with `read_after(seq)` / `follow(after_seq)`."""

    def __init__(self, capacity: int, *, name: str = "events") -> None:
        if capacity < 1:
            raise ValueError(f"EventLog capacity must be >= 1, got {capacity}")
        self.name = name
        self.capacity = capacity
        self._items: deque[T] = deque(maxlen=capacity)
        self._last_seq = 0
        self._closed = False
        self._changed = asyncio.Event()

    @property
    def last_seq(self) -> int:
        """Sequence number of the newest item; 0 when nothing was appended."""
        return self._last_seq

    @property
    def first_seq(self) -> int:
        """Sequence number of the oldest item still held (last_seq + 1 when empty)."""
        return self._last_seq - len(self._items) + 1

    @property
    def closed(self) -> bool:
        return self._closed

    def append(self, item: T) -> int:
        """Add one item; returns its sequence number. Wakes every waiting reader."""
        if self._closed:
            raise RuntimeError(f"{self.name}: append after close")
        self._items.append(item)
        self._last_seq += 1
        self._changed.set()
        return self._last_seq

    def close(self) -> None:
        """No more items; readers drain what is held and then end."""
        self._closed = True
        self._changed.set()

    def check_resume(self, after_seq: int) -> None:
        """Raise ResumeGone when items after `after_seq` are no longer all held."""
        if after_seq < self.first_seq - 1:
            raise ResumeGone(
                f"{self.name}: events {after_seq + 1}..{self.first_seq - 1} are no longer buffered "
                f"(the buffer holds {self.first_seq}..{self._last_seq}); fetch the rest with GetRun"
            )

    def read_after(self, after_seq: int, limit: int = 1 << 30) -> list[T]:
        """Items with seq > after_seq that are held now (at most `limit`); [] when none yet."""
        first = self.first_seq
        if after_seq < first - 1:
            raise FellBehind(
                f"{self.name}: reader at {after_seq} fell behind past the buffer "
                f"({self.capacity} events; oldest held is {first}); fetch the rest with GetRun"
            )
        start = after_seq + 1 - first
        if start >= len(self._items):
            return []
        return list(itertools.islice(self._items, start, min(len(self._items), start + limit)))

    async def wait_after(self, after_seq: int) -> bool:
        """Wait until an item with seq > after_seq exists (True) or the log is closed and drained (False)."""
        while self._last_seq <= after_seq:
            if self._closed:
                return False
            if self._changed.is_set():
                self._changed = asyncio.Event()
            await self._changed.wait()
        return True

    async def follow(self, after_seq: int, *, limit: int = 256) -> AsyncIterator[tuple[int, list[T]]]:
        """Yield (seq of the first item, items) chunks from after_seq on, until closed and drained.

        Raises ResumeGone at the start when after_seq is already gone, FellBehind when the reader lags
        past the ring later on.
        """
        self.check_resume(after_seq)
        seq = after_seq
        while await self.wait_after(seq):
            chunk = self.read_after(seq, limit)
            if chunk:
                yield seq + 1, chunk
                seq += len(chunk)
