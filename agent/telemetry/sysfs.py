"""Reading small sysfs/procfs files under a root folder, and energy counters that wrap or misbehave.

Every source takes a root (default "/") so tests point it at a fake tree built in a tmp folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

_READ_MAX = 4096
_fstat, _pread = os.fstat, os.pread  # module globals: one lookup each on the sampler's hot path
_pseudo_devs: frozenset[int] | None = None


def pseudo_fs_devices() -> frozenset[int]:
    """st_dev of this host's mounted sysfs (/sys) and procfs (/proc), looked up once.

    A path that is not a mount point (no sysfs in a bare container) is left out, so that files on the
    root file system are never mistaken for kernel pseudo-files.
    """
    global _pseudo_devs
    if _pseudo_devs is None:
        devs: set[int] = set()
        for mount in ("/sys", "/proc"):
            try:
                if os.path.ismount(mount):
                    devs.add(os.stat(mount).st_dev)
            except OSError:
                continue
        _pseudo_devs = frozenset(devs)
    return _pseudo_devs


class SysfsReader:
    """Reads text files below `root`. Tests may subclass it (e.g. to deny a file as a non-root user is)."""

    def __init__(self, root: str | os.PathLike[str] = "/") -> None:
        self.root = Path(root)

    def path(self, rel: str) -> Path:
        return self.root / rel.lstrip("/")

    def open_fd(self, path: Path) -> int:
        """A read-only descriptor of `path`. Raises OSError (vanished, denied) as the kernel does."""
        return os.open(path, os.O_RDONLY)

    def read_bytes(self, path: Path) -> bytes:
        """The file's first 4 KiB, raw. Raises OSError (vanished, denied) as the kernel does.

        os.open/read/close rather than open(): about 3 µs instead of 18. For a file read every tick,
        keep() it instead: no open at all.
        """
        fd = self.open_fd(path)
        try:
            return os.read(fd, _READ_MAX)
        finally:
            os.close(fd)

    def open_write_fd(self, path: Path) -> int:
        """A write-only descriptor of `path` (O_TRUNC: a regular file in a fake tree is replaced, a sysfs
        attribute ignores it). Raises OSError (denied: not root) as the kernel does."""
        return os.open(path, os.O_WRONLY | os.O_TRUNC)

    def write_text(self, path: Path, text: str) -> None:
        """Write one value to a sysfs attribute (e.g. a powercap limit). Raises OSError as the kernel does."""
        fd = self.open_write_fd(path)
        try:
            os.write(fd, text.encode("ascii"))
        finally:
            os.close(fd)

    def keep(self, path: Path) -> KeptFile:
        """`path` as a KeptFile: opened on its first read and kept open between reads."""
        return KeptFile(path, self.open_fd)

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


class KeptFile:
    """A small file read again and again through one kept descriptor (os.pread at offset 0).

    Why: on the sampler thread, which wakes every 50 ms with cold caches, opening ~20 files (a path
    walk each in the kernel) and closing them was about half of a tick's CPU; a pread on a kept
    descriptor costs a third of that.

    Staying correct when the file changes under us:
    - sysfs and procfs files are regenerated on every read at offset 0, and a kept descriptor fails
      (ENODEV) once the file is removed, so a descriptor on them is trusted as it is;
    - any other file (a fake tree in a tmp folder, a copy) keeps its old contents on a deleted or
      replaced inode, so each read first checks the link count (one fstat) and reopens the path when
      the file was deleted or replaced;
    - a read that fails (OSError) drops the descriptor and opens the path once more in the same read
      (a driver rebound, a file recreated); one that fails again, or reads garbage, is missing (None)
      and the next read starts afresh from the path. A file that reappears is read again.
    """

    __slots__ = ("_check", "_fd", "_open", "path")

    def __init__(self, path: Path, opener: Callable[[Path], int] | None = None) -> None:
        self.path = path
        self._open: Callable[[Path], int] = opener or _open_ro
        self._fd = -1
        self._check = True  # fstat st_nlink before each read (not a kernel pseudo-file)

    @property
    def is_open(self) -> bool:
        return self._fd >= 0

    @property
    def checks_link(self) -> bool:
        """Whether each read checks that the file is still linked (not a sysfs/procfs file)."""
        return self._check

    def read_int(self) -> int | None:
        """The file's integer, or None when it vanished, is unreadable or holds garbage. Never raises."""
        fd = self._fd
        if fd >= 0:  # the hot path, inlined: (fstat,) pread, int
            try:
                if not self._check or _fstat(fd).st_nlink:
                    return int(_pread(fd, _READ_MAX, 0))
            except (OSError, ValueError):
                pass  # _read() below tells a failed descriptor (reopen) from garbage (missing)
        try:
            return int(self._read())
        except (OSError, ValueError):
            self.close()
            return None

    def read_bytes(self) -> bytes | None:
        """The file's first 4 KiB, raw, or None when it vanished or is unreadable. Never raises."""
        try:
            return self._read()
        except OSError:
            self.close()
            return None

    def _read(self) -> bytes:
        fd = self._fd
        if fd >= 0:
            try:
                if not self._check or _fstat(fd).st_nlink:
                    return _pread(fd, _READ_MAX, 0)
            except OSError:
                pass  # removed under a kept descriptor (ENODEV), or the like: open the path again
            self.close()
        fd = self._open(self.path)  # raises OSError when the path is gone or denied
        try:
            data = os.pread(fd, _READ_MAX, 0)
            self._check = os.fstat(fd).st_dev not in pseudo_fs_devices()
        except OSError:
            os.close(fd)
            raise
        self._fd = fd
        return data

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __del__(self, _close: Callable[[int], None] = os.close) -> None:
        # os.close bound at definition: still there when the interpreter tears modules down at exit.
        fd, self._fd = self._fd, -1
        if fd >= 0:
            _close(fd)


def _open_ro(path: Path) -> int:
    return os.open(path, os.O_RDONLY)


class EnergyCounter:
    """Turns raw readings of a hardware energy counter into a cumulative, wrap-corrected count in J.

    Starts at 0 J with the first reading. A drop is a wrap when `max_range` is known (RAPL), else a bad
    reading. A reading implying more than `max_power_w` since the last good one (garbage, a counter
    going backwards just a little on a wrapping counter) is refused as missing; after three refusals in
    a row the counter is taken as reset and re-based at the new value.
    """

    REBASE_AFTER = 3
    __slots__ = ("_prev", "_prev_t", "_refused", "energy_j", "max_power_w", "max_range", "scale_j")

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
