"""Exponential backoff for reconnecting to agents: 0.5 s, 1 s, 2 s, ... up to a ceiling, reset on success.

Pure and deterministic (no jitter unless asked) so tests and the console agree on when the next try is.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """`delay_s = backoff.next()` after a failure; `backoff.reset()` after a success."""

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0
    jitter: float = 0.0  # fraction of the delay added at random (0: none)
    failures: int = 0
    _rng: random.Random = field(default_factory=lambda: random.Random(0), repr=False)

    def next(self) -> float:
        """The wait before the next try, and count this failure."""
        delay = min(self.initial_s * self.factor ** self.failures, self.max_s)
        self.failures += 1
        if self.jitter:
            delay += delay * self.jitter * self._rng.random()
        return delay

    def reset(self) -> None:
        self.failures = 0
