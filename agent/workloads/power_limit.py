"""The power-limit side of a sweep (load.sweep.over = "power_limit"), for driver.run_profile: open and check the
run device's limits before anything opens, set one per step, describe each step as an operating point, and
put the original back (telemetry.limits does the setting; the agent's journal keeps the original).
"""

from __future__ import annotations

import socket
from typing import Any

from wattfleet.agent.telemetry.limits import LimitError, LimitSession, PowerLimits
from wattfleet.agent.workloads.config import Profile
from wattfleet.core.model import RunRecord, figure_value


def set_power_limit(limits: LimitSession | None, record: RunRecord, value_w: float) -> dict[str, Any]:
    """Set the device's limit for the next step (the original journaled first); noted in the record's extras."""
    if limits is None:  # run_profile opens the limits before any sweep: reaching here is a bug
        raise ValueError("a power-limit sweep without its limits session")
    step = limits.set_w(value_w)
    record.extras.setdefault("power_limit", {}).setdefault("steps", []).append(step)
    return step


def power_limit_point(sub: RunRecord, value_w: float, thr_name: str, thr: float, lat_name: str,
                      lat: float) -> dict[str, Any]:
    """One power-limit step as an operating point: throughput, power and tokens/J (headline domain), latency."""
    power, per_j = sub.headline("power_avg_w"), sub.headline("tokens_per_j")
    return {"value": value_w, "setting": f"pl={value_w:g}W", thr_name: thr, lat_name: lat,
            "tpot_p99": figure_value(sub.figures, "tpot_p99"), "domain": sub.headline_domain,
            "power_avg_w": None if power is None else power.value,
            "tokens_per_j": None if per_j is None else per_j.value,
            "valid": sub.validity.valid, "saturated": False}


def open_power_limits(power_limits: PowerLimits | None, profile: Profile, record: RunRecord) -> LimitSession:
    """The run device's power-limit session, checked before anything opens: every value within what the
    device accepts, and setting allowed at all (set to the limit it has: changes nothing). Refusals are one
    line naming the host; nothing was changed."""
    host = record.host_id or socket.gethostname()
    if power_limits is None:
        raise LimitError(f"power-limit sweep refused on {host}: load.sweep.over = \"power_limit\" changes the "
                         "power limit of this host, which was not allowed; start the agent (or wattfleet bench) "
                         "with --allow-power-limits")
    try:
        session = power_limits.session(record.device, owner=record.run_id)
        try:
            session.check(profile.load.sweep.values)
            session.probe()
        except LimitError:
            session.close()
            raise
    except LimitError as exc:
        raise LimitError(f"power-limit sweep refused on {host}: {exc}; nothing was changed") from None
    first = session.held[0]
    record.extras["power_limit"] = {"device": record.device, "via": session.via, "original_w": first.original_w,
                                    "range_w": [first.range.min_w, first.range.max_w],
                                    "default_w": first.range.default_w, "steps": []}
    return session


def restore_power_limits(session: LimitSession, record: RunRecord) -> None:
    """Put the original limit back; a failure fails the run, loudly (the journal retries it at next start)."""
    problems = session.restore()
    info = record.extras.setdefault("power_limit", {})
    info["restored"] = not problems
    if problems:
        record.state = "failed"
        record.error = "; ".join([*([record.error] if record.error else []), *problems])
