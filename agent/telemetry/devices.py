"""The devices of this host, inventoried once: GPUs (NVML), the CPU, and the SoC of a Jetson."""

from __future__ import annotations

import logging
import os
import platform
from typing import Any

from wattfleet.agent.telemetry.nvml import NvmlSource
from wattfleet.agent.telemetry.source import SourceUnavailable
from wattfleet.agent.telemetry.sysfs import SysfsReader
from wattfleet.agent.telemetry.types import DeviceInfo

log = logging.getLogger(__name__)


def _cpu_model(r: SysfsReader) -> str:
    text = r.try_text(r.path("proc/cpuinfo")) or ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().lower(), value.strip())
    for key in ("model name", "hardware", "cpu model", "processor"):
        value = fields.get(key, "")
        if value and not value.isdigit():
            return value
    return platform.processor() or platform.machine() or "unknown CPU"


def _mem_total_bytes(r: SysfsReader) -> int:
    for line in (r.try_text(r.path("proc/meminfo")) or "").splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1]) * 1024
    return 0


def list_devices(root: str | os.PathLike[str] = "/", nvml: Any = None) -> list[DeviceInfo]:
    """GPUs via NVML (none when NVML is absent), the CPU (model from /proc/cpuinfo), and on a Jetson
    the SoC (/proc/device-tree/model)."""
    r = SysfsReader(root)
    out: list[DeviceInfo] = []
    try:
        src = NvmlSource(nvml)
    except SourceUnavailable as exc:
        log.debug("no GPUs listed: %s", exc)
    else:
        try:
            out.extend(src.devices())
        finally:
            src.close()
    soc = r.try_text(r.path("proc/device-tree/model"))
    if soc:
        out.append(DeviceInfo("soc", 0, soc.rstrip("\x00").strip(), memory_bytes=_mem_total_bytes(r)))
    out.append(DeviceInfo("cpu", 0, _cpu_model(r), memory_bytes=_mem_total_bytes(r),
                          driver=f"{platform.system()} {platform.release()}".strip()))
    return out
