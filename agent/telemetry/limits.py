"""Power limits: read, set and put back a GPU's (NVML) or a CPU package's (RAPL powercap) power limit.

A power-limit sweep sets one limit per step and always puts the original back: in `finally` after success,
failure and cancel, and after a crash from a journal that holds the original before the first change
(`LimitJournal`; the agent restores what it holds at its next start). One door per vendor: every NVML
call goes through NvmlLimit._call, every powercap file through a SysfsReader. Pure: no grpc.

Units enter once: NVML speaks mW, powercap µW; everything here is W.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from wattfleet.agent.telemetry.rapl import POWERCAP
from wattfleet.agent.telemetry.sysfs import SysfsReader
from wattfleet.core.errors import WattfleetError

log = logging.getLogger(__name__)

READ_BACK_TOLERANCE_W = 1.0  # a limit read back further than this from the one set is noted in the record


class LimitError(WattfleetError):
    """A power limit could not be read, checked or set; the message is one line: what, where, what to do."""


@dataclass(frozen=True)
class LimitRange:
    """The limits a device accepts (W); default_w is the device's own default where it says."""

    min_w: float
    max_w: float
    default_w: float | None = None


class Knob(Protocol):
    """One power-limit control: a GPU, or one CPU package."""

    key: str  # stable across restarts, for the journal: "nvml:<uuid>", "rapl:intel-rapl:0"
    label: str  # for people: "gpu:0 (NVIDIA H100 80GB HBM3)", "cpu package-0 (intel-rapl:0)"
    via: str  # "nvml" | "rapl"

    def get_w(self) -> float: ...
    def range(self) -> LimitRange: ...
    def set_w(self, watts: float) -> None: ...
    def close(self) -> None: ...


# --- NVML ---------------------------------------------------------------------------------------------

class NvmlLimit:
    """A GPU's power management limit through NVML (nvmlDevice{Get,Set}PowerManagementLimit, mW)."""

    via = "nvml"

    def __init__(self, nvml: Any = None, index: int | None = None, uuid: str = "") -> None:
        from wattfleet.agent.telemetry.nvml import load_pynvml
        from wattfleet.agent.telemetry.source import SourceUnavailable

        try:
            nv = load_pynvml() if nvml is None else nvml
        except SourceUnavailable as exc:
            raise LimitError(f"gpu: no NVML here ({exc}); no GPU power limit can be set") from None
        self._nv = nv
        try:
            nv.nvmlInit()
        except nv.NVMLError as exc:
            raise LimitError(f"gpu: NVML did not start ({exc}); no power limit can be read or set here") from None
        try:
            if uuid:
                self.handle = nv.nvmlDeviceGetHandleByUUID(uuid)
            else:
                count = nv.nvmlDeviceGetCount()
                if index is None or not 0 <= index < count:
                    raise LimitError(f"gpu:{index}: NVML sees {count} GPU(s); there is no such GPU on this host")
                self.handle = nv.nvmlDeviceGetHandleByIndex(index)
            self.uuid = uuid or str(nv.nvmlDeviceGetUUID(self.handle))
            name = str(nv.nvmlDeviceGetName(self.handle))
        except nv.NVMLError as exc:
            nv.nvmlShutdown()
            where = f"GPU {uuid}" if uuid else f"gpu:{index}"
            raise LimitError(f"{where}: NVML cannot find it ({exc})") from None
        except LimitError:
            nv.nvmlShutdown()
            raise
        self.key = f"nvml:{self.uuid}"
        self.label = f"gpu:{index} ({name})" if index is not None else f"{name} {self.uuid}"
        self._open = True

    def _call(self, fn: str, *args: Any) -> Any:
        """nv.<fn>(handle, *args); an NVMLError becomes a LimitError that says what to do."""
        nv = self._nv
        try:
            return getattr(nv, fn)(self.handle, *args)
        except nv.NVMLError as exc:
            code = getattr(exc, "value", None)
            if code == nv.NVML_ERROR_NOT_SUPPORTED:
                why = "this GPU does not support changing its power limit (NVML: Not Supported)"
            elif code == nv.NVML_ERROR_NO_PERMISSION:
                why = "NVML refused to change the power limit (No Permission): run the agent as root"
            elif code == nv.NVML_ERROR_INVALID_ARGUMENT:
                why = f"NVML refused the value {args[0] / 1e3:g} W (Invalid Argument): outside what the GPU accepts"
            else:
                why = f"NVML {fn} failed: {exc}"
            raise LimitError(f"{self.label}: {why}") from None

    def get_w(self) -> float:
        return float(self._call("nvmlDeviceGetPowerManagementLimit")) / 1e3

    def range(self) -> LimitRange:
        lo, hi = self._call("nvmlDeviceGetPowerManagementLimitConstraints")
        try:
            default: float | None = float(self._call("nvmlDeviceGetPowerManagementDefaultLimit")) / 1e3
        except LimitError:
            default = None
        return LimitRange(float(lo) / 1e3, float(hi) / 1e3, default)

    def set_w(self, watts: float) -> None:
        self._call("nvmlDeviceSetPowerManagementLimit", round(watts * 1e3))

    def close(self) -> None:
        if self._open:
            self._open = False
            try:
                self._nv.nvmlShutdown()
            except self._nv.NVMLError as exc:
                log.warning("nvmlShutdown failed: %s", exc)


# --- RAPL (powercap) ----------------------------------------------------------------------------------

class RaplLimit:
    """A CPU package's long-term RAPL limit: powercap constraint_0_power_limit_uw (µW)."""

    via = "rapl"

    def __init__(self, reader: SysfsReader, zone: str) -> None:
        self._r = reader
        self.zone = reader.path(POWERCAP) / zone
        name = reader.try_text(self.zone / "name") or zone
        self.key = f"rapl:{zone}"
        self.label = f"cpu {name} ({zone})"
        self._limit = self.zone / "constraint_0_power_limit_uw"
        if reader.try_int(self._limit) is None:
            raise LimitError(f"{self.label}: {self._limit} is missing or unreadable; this CPU has no RAPL power "
                             "limit to set (or the powercap driver is not loaded: modprobe intel_rapl_msr)")
        self._original_w = self.get_w()

    def get_w(self) -> float:
        try:
            return self._r.read_int(self._limit) / 1e6
        except (OSError, ValueError) as exc:
            raise LimitError(f"{self.label}: cannot read {self._limit}: {exc}") from None

    def range(self) -> LimitRange:
        """Up to constraint_0_max_power_uw where the kernel gives it; else never above the limit found at
        start (raising a CPU past what it was set to is not ours to do). At least 1 W."""
        max_uw = self._r.try_int(self.zone / "constraint_0_max_power_uw")
        hi = max_uw / 1e6 if max_uw else self._original_w
        return LimitRange(1.0, hi, None)

    def set_w(self, watts: float) -> None:
        try:
            self._r.write_text(self._limit, str(round(watts * 1e6)))
        except PermissionError:
            raise LimitError(f"{self.label}: {self._limit} is writable only by root: run the agent as root") from None
        except OSError as exc:
            raise LimitError(f"{self.label}: the kernel refused {watts:g} W in {self._limit}: "
                             f"{exc.strerror or exc}") from None

    def close(self) -> None:
        return None


def rapl_root(power_sources: Sequence[str]) -> str:
    """The root of the first `rapl:ROOT` power source spec, else "/": limits and telemetry read one tree."""
    for spec in power_sources:
        kind, _, arg = spec.strip().partition(":")
        if kind == "rapl" and arg:
            return arg
    return "/"


def rapl_zones(reader: SysfsReader) -> list[str]:
    """The top-level package zones (intel-rapl:N named package-*), in order."""
    base = reader.path(POWERCAP)
    if not base.is_dir():
        return []
    out = []
    for d in sorted(base.glob("intel-rapl:*")):
        if d.name.count(":") == 1 and (reader.try_text(d / "name") or "").startswith("package"):
            out.append(d.name)
    return out


# --- opening knobs -------------------------------------------------------------------------------------

def open_knobs(device: str, *, nvml: Any = None, root: str | Path = "/") -> list[Knob]:
    """The power-limit knobs of a run's device: "gpu:N" -> that GPU (NVML), "cpu" -> every package (RAPL)."""
    if device.startswith("gpu:"):
        try:
            index = int(device.split(":", 1)[1])
        except ValueError:
            raise LimitError(f"device {device!r}: expected gpu:N") from None
        return [NvmlLimit(nvml, index=index)]
    if device == "cpu":
        reader = SysfsReader(root)
        zones = rapl_zones(reader)
        if not zones:
            raise LimitError(f"cpu: no RAPL package zones under {reader.path(POWERCAP)}; this host has no CPU power "
                             "limit to set (not an x86 CPU with RAPL, or modprobe intel_rapl_msr)")
        return [RaplLimit(reader, z) for z in zones]
    raise LimitError(f"device {device!r}: power limits are set on gpu:N (NVML) or cpu (RAPL) only")


def open_knob(key: str, *, nvml: Any = None, root: str | Path = "/") -> Knob:
    """A knob again from its journal key (after a restart)."""
    kind, _, ident = key.partition(":")
    if kind == "nvml" and ident:
        return NvmlLimit(nvml, uuid=ident)
    if kind == "rapl" and ident:
        return RaplLimit(SysfsReader(root), ident)
    raise LimitError(f"journaled power limit {key!r}: unknown kind (expected nvml:<uuid> or rapl:<zone>)")


# --- a sweep's limits, always put back -----------------------------------------------------------------

class LimitJournal(Protocol):
    """Where originals are kept before the first change, so that a crash cannot leave a limit behind."""

    def remember_limit(self, key: str, original_w: float, owner: str) -> float:
        """Keep `original_w` for `key` (durably, before returning); a row already there wins (an earlier
        crash's original is the true one). Returns the original on record."""
        ...

    def forget_limit(self, key: str) -> None: ...

    def pending_limits(self) -> list[tuple[str, float, str]]:
        """(key, original_w, owner) of every limit not yet put back."""
        ...


@dataclass
class _Held:
    knob: Knob
    original_w: float
    range: LimitRange
    changed: bool = False


@dataclass
class LimitSession:
    """The power limit of one run's device, set step by step and put back by `restore()` (call it in
    `finally`). Opening reads the originals and ranges and changes nothing."""

    device: str
    knobs: Sequence[Knob]
    journal: LimitJournal | None = None
    owner: str = ""
    held: list[_Held] = field(default_factory=list)
    current_w: float | None = None

    def __post_init__(self) -> None:
        try:
            for k in self.knobs:
                self.held.append(_Held(k, k.get_w(), k.range()))
        except LimitError:
            self.close()
            raise

    @property
    def via(self) -> str:
        return self.knobs[0].via if self.knobs else ""

    def check(self, values_w: Sequence[float]) -> None:
        """Refuse, before anything is set, a value outside what any of the knobs accepts."""
        for h in self.held:
            r = h.range
            bad = [v for v in values_w if not (math.isfinite(v) and r.min_w <= v <= r.max_w)]
            if bad:
                raise LimitError(f"{h.knob.label}: {', '.join(f'{v:g}' for v in bad)} W outside the power limits it "
                                 f"accepts ({r.min_w:g} to {r.max_w:g} W); choose load.sweep.values in that range")

    def probe(self) -> None:
        """Set each knob to the limit it already has: changes nothing, and shows now (not after the model
        loaded) whether this host lets us set limits at all."""
        for h in self.held:
            h.knob.set_w(h.original_w)

    def set_w(self, watts: float) -> dict[str, Any]:
        """Set every knob to `watts` (the original journaled first); returns what was set and read back."""
        read_back: dict[str, float] = {}
        for h in self.held:
            ours = False  # whether the journal row is this session's (not one an earlier crash left)
            if not h.changed and self.journal is not None:
                ours = all(key != h.knob.key for key, _, _ in self.journal.pending_limits())
                h.original_w = self.journal.remember_limit(h.knob.key, h.original_w, self.owner)
            try:
                h.knob.set_w(watts)
            except LimitError:
                if ours and self.journal is not None:
                    self.journal.forget_limit(h.knob.key)  # nothing changed on this knob
                raise
            h.changed = True
            read_back[h.knob.label] = h.knob.get_w()
        self.current_w = watts
        info: dict[str, Any] = {"set_w": watts, "via": self.via, "device": self.device,
                                "original_w": self.original_w, "read_back_w": read_back}
        off = [f"{label} reads {w:g} W" for label, w in read_back.items() if abs(w - watts) > READ_BACK_TOLERANCE_W]
        if off:
            info["note"] = f"set {watts:g} W but {', '.join(off)}"
        return info

    @property
    def original_w(self) -> float | None:
        return self.held[0].original_w if self.held else None

    def restore(self) -> list[str]:
        """Put every changed knob back to its original; returns what could not be put back (one line each;
        those stay journaled and are retried at the next agent start). Closes the knobs."""
        problems: list[str] = []
        for h in self.held:
            if not h.changed:
                continue
            try:
                h.knob.set_w(h.original_w)
            except LimitError as exc:
                problems.append(f"power limit not restored to {h.original_w:g} W: {exc}")
                log.error("%s", problems[-1])
                continue
            h.changed = False
            if self.journal is not None:
                self.journal.forget_limit(h.knob.key)
        self.current_w = None
        self.close()
        return problems

    def close(self) -> None:
        for k in self.knobs:
            k.close()


@dataclass(frozen=True)
class PowerLimits:
    """Permission and the means to change power limits on this host; a run gets one only when its
    owner allowed it (`wattfleet agent --allow-power-limits`, `wattfleet bench --allow-power-limits`)."""

    journal: LimitJournal | None = None
    nvml: Any = None  # the pynvml module (None: load it), or a fake in tests
    root: str = "/"  # sysfs root for RAPL

    def session(self, device: str, owner: str = "") -> LimitSession:
        return LimitSession(device, open_knobs(device, nvml=self.nvml, root=self.root), self.journal, owner)


def restore_journaled(journal: LimitJournal, *, nvml: Any = None, root: str | Path = "/") -> list[str]:
    """Put back every limit the journal still holds (after a crash); returns one line per limit, said as a
    warning. A limit that cannot be put back stays journaled and is tried again next time."""
    out = []
    for key, original_w, owner in journal.pending_limits():
        try:
            knob = open_knob(key, nvml=nvml, root=root)
            try:
                knob.set_w(original_w)
            finally:
                knob.close()
        except LimitError as exc:
            out.append(f"power limit {key} left by run {owner or '?'} NOT restored to {original_w:g} W: {exc}; "
                       "it stays journaled and is tried again at the next start")
            continue
        journal.forget_limit(key)
        out.append(f"power limit of {knob.label} restored to {original_w:g} W (left changed by run {owner or '?'}, "
                   "which did not end cleanly)")
    return out
