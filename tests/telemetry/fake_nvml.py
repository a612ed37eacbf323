"""A fake NVML module: the real pynvml function names, return types (ctypes structs), units (mW, mJ,
bytes, MHz) and NVMLError classes and codes, over simulated GPUs. Only constants and error classes are
taken from the installed nvidia-ml-py; no real NVML function is ever called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pynvml


@dataclass
class FakeGpu:
    name: str = "NVIDIA H100 80GB HBM3"
    uuid: str = "GPU-00000000-1111-2222-3333-444444444444"
    arch: int = pynvml.NVML_DEVICE_ARCH_HOPPER
    power_mw: Callable[[int], int] = lambda tick: 300_000  # instant board power
    avg_power_mw: int | None = 290_000  # nvmlDeviceGetPowerUsage; None = NotSupported
    instant_supported: bool = True
    module_mw: int | None = None  # Grace module scope; None = NotSupported
    energy_supported: bool = True  # False on pre-Volta
    energy_field_supported: bool = True  # NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION as a field
    memory_total: int = 80 * 2**30
    memory_used: int = 20 * 2**30
    reasons: int = 0
    lost_at_tick: int | None = None  # from this read on, every call raises GPU_IS_LOST
    energy_mj: int = 1_000_000
    calls: list[str] = field(default_factory=list)
    # Power management limit (mW), as nvmlDeviceGet/SetPowerManagementLimit and ...LimitConstraints see it.
    limit_mw: int = 700_000
    limit_min_mw: int = 200_000
    limit_max_mw: int = 700_000
    default_limit_mw: int = 700_000
    limit_supported: bool = True  # False: every power-limit call is NVML_ERROR_NOT_SUPPORTED
    limit_settable: bool = True  # False: setting is NVML_ERROR_NO_PERMISSION (the agent is not root)
    fail_set_at: int | None = None  # the n-th attempt to set (0-based) fails with NVML_ERROR_UNKNOWN
    set_attempts: int = 0
    limits_set: list[int] = field(default_factory=list)  # every limit set (successfully), in mW, in order


class FakeNvml:
    """Stands in for the `pynvml` module. Simulated time moves by `set_tick(n)`, `tick_s` a tick, or with
    `clock` (seconds, e.g. time.monotonic) on every call, for live samplers. Board power never exceeds the
    GPU's power limit, as a real board's does not for long."""

    def __init__(self, gpus: list[FakeGpu], tick_s: float = 0.1, init_error: int | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.gpus = gpus
        self.tick_s = tick_s
        self.tick = 0
        self.init_error = init_error
        self.clock = clock
        self._t0 = clock() if clock is not None else 0.0
        self.init_count = 0  # NVML counts nvmlInit calls; the last nvmlShutdown shuts it down

    @property
    def initialised(self) -> bool:
        return self.init_count > 0

    def __getattr__(self, name: str) -> Any:
        if name.startswith(("NVML_", "NVMLError", "nvmlClocks")):
            return getattr(pynvml, name)
        raise AttributeError(f"fake NVML has no {name}")

    # -- helpers --------------------------------------------------------------------------------
    def _gpu(self, handle: int, fn: str) -> FakeGpu:
        if not self.initialised:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_UNINITIALIZED)
        if self.clock is not None:
            self.set_tick(max(self.tick, int((self.clock() - self._t0) / self.tick_s)))
        g = self.gpus[handle]
        g.calls.append(fn)
        del g.calls[:-100]
        if g.lost_at_tick is not None and self.tick >= g.lost_at_tick:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)
        return g

    # -- the real names ---------------------------------------------------------------------------
    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise pynvml.NVMLError(self.init_error)
        self.init_count += 1

    def nvmlShutdown(self) -> None:
        if not self.init_count:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_UNINITIALIZED)
        self.init_count -= 1

    def nvmlSystemGetDriverVersion(self) -> str:
        return "570.86.15"

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        if not 0 <= index < len(self.gpus):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return index

    def nvmlDeviceGetName(self, handle: int) -> str:
        return self._gpu(handle, "name").name

    def nvmlDeviceGetUUID(self, handle: int) -> str:
        return self._gpu(handle, "uuid").uuid

    def nvmlDeviceGetArchitecture(self, handle: int) -> int:
        return self._gpu(handle, "arch").arch

    def nvmlDeviceGetFieldValues(self, handle: int, field_ids: list[Any]) -> Any:
        g = self._gpu(handle, "fields")
        values = (pynvml.c_nvmlFieldValue_t * len(field_ids))()
        for i, fid in enumerate(field_ids):
            fid, scope = fid if isinstance(fid, tuple) else (fid, 0)
            values[i].fieldId, values[i].scopeId = fid, scope
            values[i].valueType = pynvml.NVML_VALUE_TYPE_UNSIGNED_INT
            mw: int | None = None
            if fid == pynvml.NVML_FI_DEV_POWER_INSTANT and scope == pynvml.NVML_POWER_SCOPE_GPU:
                mw = min(g.power_mw(self.tick), g.limit_mw) if g.instant_supported else None
            elif fid == pynvml.NVML_FI_DEV_POWER_INSTANT and scope == pynvml.NVML_POWER_SCOPE_MODULE:
                mw = g.module_mw
            elif fid == pynvml.NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION and g.energy_supported \
                    and g.energy_field_supported:
                values[i].nvmlReturn = pynvml.NVML_SUCCESS
                values[i].valueType = pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG
                values[i].value.ullVal = g.energy_mj  # mJ
                continue
            if mw is None:
                values[i].nvmlReturn = pynvml.NVML_ERROR_NOT_SUPPORTED
            else:
                values[i].nvmlReturn = pynvml.NVML_SUCCESS
                values[i].value.uiVal = mw
        return values

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        g = self._gpu(handle, "power_usage")
        if g.avg_power_mw is None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return g.avg_power_mw

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: int) -> int:
        """mJ since driver load."""
        g = self._gpu(handle, "energy")
        if not g.energy_supported:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return g.energy_mj

    def set_tick(self, tick: int) -> None:
        """Move simulated time on; each GPU's counter gains its board power over the ticks passed."""
        for g in self.gpus:
            for t in range(self.tick, tick):
                g.energy_mj += int(min(g.power_mw(t), g.limit_mw) * self.tick_s)
        self.tick = tick

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> Any:
        self._gpu(handle, "util")
        u = pynvml.c_nvmlUtilization_t()
        u.gpu, u.memory = 87, 40
        return u

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Any:
        g = self._gpu(handle, "memory")
        m = pynvml.c_nvmlMemory_t()
        m.total, m.used, m.free = g.memory_total, g.memory_used, g.memory_total - g.memory_used
        return m

    def nvmlDeviceGetTemperature(self, handle: int, sensor: int) -> int:
        self._gpu(handle, "temperature")
        if sensor != pynvml.NVML_TEMPERATURE_GPU:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return 64

    def nvmlDeviceGetClockInfo(self, handle: int, clock: int) -> int:
        self._gpu(handle, "clock")
        return {pynvml.NVML_CLOCK_SM: 1980, pynvml.NVML_CLOCK_MEM: 2619}[clock]

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: int) -> int:
        return self._gpu(handle, "limit").limit_mw

    # -- power management limits (mW; NVML_ERROR_NOT_SUPPORTED, _NO_PERMISSION, _INVALID_ARGUMENT) ------
    def _limits(self, handle: int, fn: str) -> FakeGpu:
        g = self._gpu(handle, fn)
        if not g.limit_supported:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return g

    def nvmlDeviceGetPowerManagementLimit(self, handle: int) -> int:
        return self._limits(handle, "get_limit").limit_mw

    def nvmlDeviceGetPowerManagementLimitConstraints(self, handle: int) -> list[int]:
        g = self._limits(handle, "limit_constraints")
        return [g.limit_min_mw, g.limit_max_mw]

    def nvmlDeviceGetPowerManagementDefaultLimit(self, handle: int) -> int:
        return self._limits(handle, "default_limit").default_limit_mw

    def nvmlDeviceSetPowerManagementLimit(self, handle: int, limit: int) -> None:
        g = self._limits(handle, "set_limit")
        if not g.limit_settable:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NO_PERMISSION)
        if not g.limit_min_mw <= limit <= g.limit_max_mw:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        g.set_attempts += 1
        if g.fail_set_at is not None and g.set_attempts - 1 == g.fail_set_at:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_UNKNOWN)
        g.limits_set.append(int(limit))
        g.limit_mw = int(limit)

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> int:
        if not self.initialised:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_UNINITIALIZED)
        for i, g in enumerate(self.gpus):
            if g.uuid == uuid:
                return i
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: int) -> int:
        return self._gpu(handle, "reasons").reasons
