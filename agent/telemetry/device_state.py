"""A device's state over a measured window, from the sampler's device samples: power limit, clocks and
temperature at the start and at the end, and every throttle (clock event) reason seen in between
(METRICS.md "Validity and environment": what moves the numbers, and the audit's outlier evidence).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wattfleet.agent.telemetry.types import DeviceReading


def _snapshot(s: DeviceReading, anchor_mono_ns: int) -> dict[str, Any]:
    return {"t_ns": s.t_ns - anchor_mono_ns, "power_limit_w": s.power_limit_w, "sm_clock_mhz": s.sm_clock_mhz,
            "mem_clock_mhz": s.mem_clock_mhz, "temperature_c": s.temperature_c,
            "throttle_reasons": list(s.throttle_reasons)}


def device_state(samples: Iterable[DeviceReading], device: str, t0_ns: int, t1_ns: int,
                 anchor_mono_ns: int = 0) -> dict[str, Any]:
    """{"device", "start", "end", "throttle_reasons_seen", "n_samples"} of `device` over [t0_ns, t1_ns].

    "start" is the last sample at or before t0 (else the first inside the window), "end" the last at or
    before t1; times are relative to `anchor_mono_ns` (the record's anchor). Without a sample of the
    device in reach, a "note" says so instead.
    """
    mine = sorted((s for s in samples if s.device == device and s.t_ns <= t1_ns), key=lambda s: s.t_ns)
    before = [s for s in mine if s.t_ns <= t0_ns]
    inside = [s for s in mine if s.t_ns > t0_ns]
    if not inside and not before:
        return {"device": device, "note": f"no device statistics of {device} from this host's sources "
                                          "during the window"}
    start = before[-1] if before else inside[0]
    window = [start, *inside]
    seen = sorted({r for s in window for r in s.throttle_reasons})
    out: dict[str, Any] = {"device": device, "start": _snapshot(start, anchor_mono_ns),
                           "end": _snapshot(window[-1], anchor_mono_ns), "throttle_reasons_seen": seen,
                           "n_samples": len(window)}
    if not before:
        out["note"] = "no sample at the window's start: 'start' is the first one inside it"
    return out


def device_summary(state: dict[str, Any]) -> dict[str, Any]:
    """What the record's environment.device carries from the state (the audit reads these keys): the power
    limit in force at the start, SM and memory clocks at the end, the throttle reasons seen."""
    start, end = state.get("start"), state.get("end")
    if not isinstance(start, dict) or not isinstance(end, dict):
        return {}
    clocks = {k: v for k, v in (("sm", end.get("sm_clock_mhz")), ("mem", end.get("mem_clock_mhz")))
              if v is not None}
    out: dict[str, Any] = {"clocks_mhz": clocks, "throttle_reasons": list(state.get("throttle_reasons_seen", []))}
    if start.get("power_limit_w") is not None:
        out["power_limit_w"] = start["power_limit_w"]
    return out
