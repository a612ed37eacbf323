"""Reading small sysfs/procfs files under a root folder, and energy counters that wrap or misbehave.

Every source takes a root (default "/") so tests point it at a fake tree built in a tmp folder.
"""

from __future__ import annotations

import os
from pathlib import Path


class SysfsReader:
    """Reads text files below `root`. Tests may subclass it (e.g. to deny a file as a non-root user is)."""

    def __init__(self, root: str | os.PathLike[str] = "/") -> None:
        self.root = Path(root)

    def path(self, rel: str) -> Path:
        return self.root / rel.lstrip("/")

    def read_bytes(self, path: Path) -> bytes:
        """The file's first 4 KiB, raw. Raises OSError (vanished, denied) as the kernel does.

        os.open/read/close rather than open(): about 3 µs instead of 18, which the 20 Hz thread feels.
        """
        fd = os.open(path, os.O_RDONLY)
        try:
            return os.read(fd, 4096)
        finally:
            os.close(fd)

    def read_text(self, path: Path) -> str:
        """The file's text, stripped."""
        return self.read_bytes(path).decode("ascii", errors="replace").strip()

    def read_int(self, path: Path) -> int:
        """An integer file. Raises OSError, or ValueError on garbage."""
        return int(self.read_bytes(path))

    def try_int(self, path: Path) -> int | None:
        """An integer file, or None when it vanished, is unreadable or holds garbage."""
        try:
            return self.read_int(path)
        except (OSError, ValueError):
            return None

    def try_text(self, path: Path) -> str | None:
        try:
            return self.read_text(path)
        except OSError:
            return None


class EnergyCounter:
    """Turns raw readings of a hardware energy counter into a cumulative, wrap-corrected count in J.

    Starts at 0 J with the first reading. A drop is a wrap when `max_range` is known (RAPL), else a bad
    reading. A reading implying more than `max_power_w` since the last good one (garbage, a counter
    going backwards just a little on a wrapping counter) is refused as missing; after three refusals in
    a row the counter is taken as reset and re-based at the new value.
    """

    REBASE_AFTER = 3

    def __init__(self, scale_j: float, max_range: int | None = None, max_power_w: float = 5000.0) -> None:
        self.scale_j = scale_j
        self.max_range = max_range
        self.max_power_w = max_power_w
        self.energy_j = 0.0
        self._prev: int | None = None
        self._prev_t = 0
        self._refused = 0

    def update(self, raw: int | None, t_ns: int) -> tuple[float | None, float | None]:
        """(cumulative energy_j, power_w over the last interval); (None, None) when refused/missing."""
        if raw is None:
            return None, None
        if self._prev is None:
            self._prev, self._prev_t = raw, t_ns
            return self.energy_j, None
        dt_ns = t_ns - self._prev_t
        delta = raw - self._prev
        if delta < 0 and self.max_range:
            delta += self.max_range
        power = delta * self.scale_j / (dt_ns / 1e9) if dt_ns > 0 else None
        if delta < 0 or dt_ns <= 0 or (power is not None and power > self.max_power_w):
            self._refused += 1
            if self._refused >= self.REBASE_AFTER:
                self._prev, self._prev_t, self._refused = raw, t_ns, 0
            return None, None
        self._refused = 0
        self._prev, self._prev_t = raw, t_ns
        self.energy_j += delta * self.scale_j
        return self.energy_j, power
