"""NVIDIA GPUs through NVML (nvidia-ml-py, `import pynvml`), one door: every call goes through _call().

Per GPU i: domain "gpu-board:i" from the instant power field (NVML_FI_DEV_POWER_INSTANT) where the GPU
has it, else nvmlDeviceGetPowerUsage (a ~1 s average on Ampere and newer, labelled so), with the total
energy counter (nvmlDeviceGetTotalEnergyConsumption, mJ, Volta and newer; read each tick in the same
field-values call as the power where the driver offers it as a field) for window energy;
"gpu-module:i" where the module power scope answers (Grace systems). Device statistics come from the
same handles. Tests pass a fake module with the real function names, units and NVMLError codes.
"""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass, field, replace
from typing import Any

from wattfleet.agent.telemetry.source import Source, SourceUnavailable
from wattfleet.agent.telemetry.sysfs import EnergyCounter
from wattfleet.agent.telemetry.types import DeviceInfo, DeviceReading, Reading, SourceStatus

log = logging.getLogger(__name__)

NVML_MODULE_ENV = "WATTFLEET_NVML_MODULE"

# Reason bit constant names (new "ClocksEvent" spelling first, then the older "ClocksThrottle").
_REASONS = (
    ("gpu_idle", "GpuIdle"),
    ("applications_clocks", "ApplicationsClocksSetting"),
    ("sw_power_cap", "SwPowerCap"),
    ("hw_slowdown", "HwSlowdown"),
    ("sync_boost", "SyncBoost"),
    ("sw_thermal", "SwThermalSlowdown"),
    ("hw_thermal", "HwThermalSlowdown"),
    ("hw_power_brake", "HwPowerBrakeSlowdown"),
    ("display_clocks", "DisplayClockSetting"),
)
_VALUE_FIELDS = {0: "dVal", 1: "uiVal", 2: "ulVal", 3: "ullVal", 4: "sllVal", 5: "siVal", 6: "usVal"}
# pynvml's structs override __getattribute__ in Python (to decode bytes fields); the numeric fields of a
# field value read the same through the plain C descriptor, at a fraction of the cost each tick.
_get = object.__getattribute__


class _Lost(Exception):
    """The GPU fell off the bus (NVML_ERROR_GPU_IS_LOST)."""


@dataclass
class _Gpu:
    index: int
    handle: Any
    name: str
    instant: bool = False  # board power from the instant field; else the averaged reading
    has_power: bool = False
    module: bool = False
    counter: EnergyCounter | None = None
    energy_field: bool = False  # the counter also answers as a field: one NVML call per tick
    ids: list[Any] = field(default_factory=list)  # the field ids read each tick, in order
    lost: bool = False
    unsupported: set[str] = field(default_factory=set)
    board_d: str = ""
    module_d: str = ""
    missing: tuple[Reading, ...] = ()  # a missing Reading for each of its domains, made once

    def __post_init__(self) -> None:
        self.board_d, self.module_d = f"gpu-board:{self.index}", f"gpu-module:{self.index}"

    def settle(self) -> None:
        """After probing: the missing readings of the domains this GPU reports."""
        mine = ([self.board_d] if self.has_power else []) + ([self.module_d] if self.module else [])
        self.missing = tuple(Reading(d, None, None, True) for d in mine)


def load_pynvml() -> Any:
    """The pynvml module; or, where WATTFLEET_NVML_MODULE names one ("module" or "module:attribute"), a
    stand-in with the same names (tests start agent processes on a fake NVML this way)."""
    named = os.environ.get(NVML_MODULE_ENV, "")
    if named:
        module, _, attr = named.partition(":")
        try:
            found: Any = importlib.import_module(module)
            return getattr(found, attr) if attr else found
        except (ImportError, AttributeError) as exc:
            raise SourceUnavailable(f"absent: {NVML_MODULE_ENV}={named} cannot be loaded ({exc})") from None
    try:
        import pynvml
    except ImportError:
        raise SourceUnavailable(
            "absent: nvidia-ml-py is not installed; install the agent extra: pip install 'wattfleet[agent]'"
        ) from None
    return pynvml


class NvmlSource(Source):
    """All GPUs NVML sees (or `indices`). `nvml` is the pynvml module, or a fake of it in tests."""

    def __init__(self, nvml: Any = None, indices: list[int] | None = None) -> None:
        self.name = "nvml"
        self.update_interval_s = 0.1  # the energy counter updates every 20-100 ms
        nv = load_pynvml() if nvml is None else nvml
        self._nv = nv
        # Constants looked up once: the sampler thread pays for every attribute lookup, 20 times a second.
        self._ok, self._lost = nv.NVML_SUCCESS, nv.NVML_ERROR_GPU_IS_LOST
        self._unsupported_codes = (nv.NVML_ERROR_NOT_SUPPORTED, nv.NVML_ERROR_FUNCTION_NOT_FOUND)
        self._reasons = reason_masks(nv)
        try:
            nv.nvmlInit()
        except nv.NVMLError as exc:
            raise SourceUnavailable(_init_failure(nv, exc)) from None
        try:
            count = nv.nvmlDeviceGetCount()
            wanted = range(count) if indices is None else indices
            self._gpus = [self._probe(i) for i in wanted if 0 <= i < count]
        except nv.NVMLError as exc:
            nv.nvmlShutdown()
            raise SourceUnavailable(f"unreadable: NVML failed while listing GPUs: {exc}") from None
        if not self._gpus:
            nv.nvmlShutdown()
            raise SourceUnavailable(f"absent: NVML sees {count} GPU(s), none of them selected ({indices})")
        domains: list[str] = []
        notes: list[str] = []
        for g in self._gpus:
            if g.has_power:
                domains.append(f"gpu-board:{g.index}")
                how = "instant power field" if g.instant else "averaged power (nvmlDeviceGetPowerUsage, ~1 s)"
                cnt = "energy counter" if g.counter else "no energy counter (pre-Volta): integral"
                notes.append(f"gpu:{g.index} {g.name}: {how}, {cnt}")
            else:
                notes.append(f"gpu:{g.index} {g.name}: NVML reports no power (device stats only)")
            if g.module:
                domains.append(f"gpu-module:{g.index}")
                notes.append(f"gpu:{g.index}: module power scope")
        self.domains = tuple(domains)
        self.detail = "; ".join(notes)

    # -- the one door --------------------------------------------------------------------------
    def _call(self, g: _Gpu, fn: str, *args: Any) -> Any:
        """nv.<fn>(handle, *args); None when unsupported/failed; raises _Lost when the GPU is gone."""
        if fn in g.unsupported:
            return None
        nv = self._nv
        try:
            return getattr(nv, fn)(g.handle, *args)
        except nv.NVMLError as exc:
            if exc.value == self._lost:
                raise _Lost() from None
            if exc.value in self._unsupported_codes:
                log.info("NVML %s is not supported on gpu:%d; not asked again", fn, g.index)
                g.unsupported.add(fn)
            return None

    def _fields(self, g: _Gpu, ids: list[Any]) -> list[float | None]:
        """Values of field ids (a field id or (id, scope)); None for a field that failed."""
        values = self._call(g, "nvmlDeviceGetFieldValues", ids)
        if values is None:
            return [None] * len(ids)
        out: list[float | None] = []
        ok, lost, get = self._ok, self._lost, _get
        for v in values:
            ret = get(v, "nvmlReturn")
            if ret == lost:
                raise _Lost()
            attr = _VALUE_FIELDS.get(int(get(v, "valueType"))) if ret == ok else None
            out.append(float(getattr(get(v, "value"), attr)) if attr else None)
        return out

    def _probe(self, i: int) -> _Gpu:
        nv = self._nv
        handle = nv.nvmlDeviceGetHandleByIndex(i)
        g = _Gpu(i, handle, str(nv.nvmlDeviceGetName(handle)))
        try:
            board, module = self._fields(g, [nv.NVML_FI_DEV_POWER_INSTANT,
                                             (nv.NVML_FI_DEV_POWER_INSTANT, nv.NVML_POWER_SCOPE_MODULE)])
            g.instant = board is not None
            g.module = module is not None
            g.has_power = g.instant or self._call(g, "nvmlDeviceGetPowerUsage") is not None
            if self._call(g, "nvmlDeviceGetTotalEnergyConsumption") is not None:
                g.counter = EnergyCounter(1e-3, max_power_w=20_000.0)
                (energy,) = self._fields(g, [nv.NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION])
                g.energy_field = energy is not None
            # Every id as (id, scope): pynvml sets a bare id only after catching a TypeError, per field
            # and per call; scope 0 is what a bare id leaves in the zeroed struct (the GPU scope).
            if g.instant:
                g.ids.append((nv.NVML_FI_DEV_POWER_INSTANT, nv.NVML_POWER_SCOPE_GPU))
            if g.module:
                g.ids.append((nv.NVML_FI_DEV_POWER_INSTANT, nv.NVML_POWER_SCOPE_MODULE))
            if g.energy_field:
                g.ids.append((nv.NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION, 0))
        except _Lost:
            g.lost = True
        g.settle()
        return g

    # -- reads ---------------------------------------------------------------------------------
    def read(self, t_ns: int) -> list[Reading]:
        out: list[Reading] = []
        for g in self._gpus:
            if g.lost:
                out.extend(g.missing)
                continue
            try:
                vals = self._fields(g, g.ids) if g.ids else []
                board_mw = vals[0] if g.instant else None
                module_mw = vals[1 if g.instant else 0] if g.module else None
                if g.has_power and not g.instant:
                    avg = self._call(g, "nvmlDeviceGetPowerUsage")
                    board_mw = None if avg is None else float(avg)
                energy_j: float | None = None
                counter_ok = True
                if g.counter is not None:
                    raw = vals[-1] if g.energy_field else self._call(g, "nvmlDeviceGetTotalEnergyConsumption")
                    energy_j, _ = g.counter.update(None if raw is None else int(raw), t_ns)
                    counter_ok = energy_j is not None
            except _Lost:
                g.lost = True
                log.error("gpu:%d (%s) is lost (NVML_ERROR_GPU_IS_LOST); its readings are missing", g.index, g.name)
                out.extend(g.missing)
                continue
            if g.has_power:
                out.append(Reading(g.board_d, board_mw / 1e3, energy_j) if counter_ok and board_mw is not None
                           else g.missing[0])
            if g.module:
                out.append(Reading(g.module_d, module_mw / 1e3) if module_mw is not None else g.missing[-1])
        return out

    def read_devices(self, t_ns: int) -> list[DeviceReading]:
        nv = self._nv
        out: list[DeviceReading] = []
        for g in self._gpus:
            if g.lost:
                continue
            try:
                util = self._call(g, "nvmlDeviceGetUtilizationRates")
                mem = self._call(g, "nvmlDeviceGetMemoryInfo")
                temp = self._call(g, "nvmlDeviceGetTemperature", nv.NVML_TEMPERATURE_GPU)
                sm = self._call(g, "nvmlDeviceGetClockInfo", nv.NVML_CLOCK_SM)
                memclk = self._call(g, "nvmlDeviceGetClockInfo", nv.NVML_CLOCK_MEM)
                limit = self._call(g, "nvmlDeviceGetEnforcedPowerLimit")
                reasons = self._call(g, "nvmlDeviceGetCurrentClocksEventReasons")
                if reasons is None and "nvmlDeviceGetCurrentClocksEventReasons" in g.unsupported:
                    reasons = self._call(g, "nvmlDeviceGetCurrentClocksThrottleReasons")
            except _Lost:
                g.lost = True
                log.error("gpu:%d (%s) is lost (NVML_ERROR_GPU_IS_LOST)", g.index, g.name)
                continue
            out.append(DeviceReading(
                device=f"gpu:{g.index}",
                t_ns=t_ns,
                utilization_pct=None if util is None else float(util.gpu),
                memory_used_bytes=None if mem is None else float(mem.used),
                temperature_c=None if temp is None else float(temp),
                sm_clock_mhz=None if sm is None else float(sm),
                mem_clock_mhz=None if memclk is None else float(memclk),
                power_limit_w=None if limit is None else limit / 1e3,
                throttle_reasons=() if reasons is None else reason_names(nv, int(reasons), self._reasons),
            ))
        return out

    def status(self) -> SourceStatus:
        st = super().status()
        lost = [f"gpu:{g.index}" for g in self._gpus if g.lost]
        if lost:
            return replace(st, detail=f"{st.detail}; LOST: {', '.join(lost)} (readings missing; reset the GPU)")
        return st

    def devices(self) -> list[DeviceInfo]:
        """DeviceInfo of each selected GPU (lost ones included, with what is known)."""
        nv = self._nv
        try:
            driver = str(nv.nvmlSystemGetDriverVersion())
        except nv.NVMLError:
            driver = ""
        out: list[DeviceInfo] = []
        for g in self._gpus:
            uuid, mem, limit = "", 0, 0.0
            if not g.lost:
                try:
                    uuid = str(self._call(g, "nvmlDeviceGetUUID") or "")
                    m = self._call(g, "nvmlDeviceGetMemoryInfo")
                    mem = 0 if m is None else int(m.total)
                    lim = self._call(g, "nvmlDeviceGetEnforcedPowerLimit")
                    limit = 0.0 if lim is None else lim / 1e3
                except _Lost:
                    g.lost = True
            out.append(DeviceInfo("gpu", g.index, g.name, uuid, mem, limit, driver))
        return out

    def close(self) -> None:
        nv = self._nv
        try:
            nv.nvmlShutdown()
        except nv.NVMLError as exc:
            log.warning("nvmlShutdown failed: %s", exc)


def reason_masks(nv: Any) -> tuple[tuple[str, int], ...]:
    """(name, bit mask) of each clock event (throttle) reason this NVML module defines."""
    out: list[tuple[str, int]] = []
    for name, suffix in _REASONS:
        mask = getattr(nv, f"nvmlClocksEventReason{suffix}", None)
        if mask is None:
            mask = getattr(nv, f"nvmlClocksThrottleReason{suffix}", None)
        if mask is not None:
            out.append((name, int(mask)))
    return tuple(out)


def reason_names(nv: Any, bits: int, masks: tuple[tuple[str, int], ...] | None = None) -> tuple[str, ...]:
    """Names of the clock event (throttle) reasons set in `bits` (`masks` from reason_masks(nv), if kept)."""
    return tuple(name for name, mask in (reason_masks(nv) if masks is None else masks) if bits & mask)


def _init_failure(nv: Any, exc: Any) -> str:
    code = getattr(exc, "value", None)
    if code in (nv.NVML_ERROR_LIBRARY_NOT_FOUND, nv.NVML_ERROR_DRIVER_NOT_LOADED):
        return f"absent: no NVIDIA driver on this host (NVML: {exc})"
    if code == nv.NVML_ERROR_NO_PERMISSION:
        return f"no permission: NVML refused to start ({exc}); check access to /dev/nvidia*"
    return f"unreadable: NVML failed to start: {exc}"
