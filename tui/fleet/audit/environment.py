"""What moves the numbers, read from a record's `environment`: the outlier evidence.

The device as the runner saw it (`environment.device`: name, id) and, where the agent read them, the
device's state over the run (`environment.device_state`: power limit, clocks, temperatures, throttle
reasons seen; one block per reading, such as `start` and `end`, or per device). Nothing here trusts a
shape: unknown keys are ignored, and a value that is not a number is unknown.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from wattfleet.tui.fleet.audit.model import Environment

# Which reading of the device's state speaks for the run when they differ: under load beats idle.
_PREFER = ("end", "during", "max", "last", "", "start", "first", "min")
_THROTTLE_KEYS = ("throttle_reasons", "throttle_reasons_seen", "clock_event_reasons", "clock_event_reasons_seen")
_LIMIT_KEYS = ("power_limit_w", "enforced_power_limit_w")
_DEPTH = 3


def num(value: Any) -> float | None:
    """A finite number, or None (booleans, strings and NaN are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def as_dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _blocks(state: Mapping[str, Any], path: str = "", depth: int = 0) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(the innermost qualifier such as "end", block) for the state and every mapping inside it."""
    yield path, state
    if depth < _DEPTH:
        for key, value in state.items():
            if isinstance(value, Mapping) and key != "clocks_mhz":
                yield from _blocks(value, str(key) if str(key) in _PREFER else path, depth + 1)


def _rank(qualifier: str) -> int:
    return _PREFER.index(qualifier) if qualifier in _PREFER else len(_PREFER)


def _clocks(block: Mapping[str, Any]) -> dict[str, float]:
    out = {str(k): v for k, x in as_dict(block.get("clocks_mhz")).items() if (v := num(x)) is not None}
    for key, x in block.items():
        if str(key).endswith("_clock_mhz") and (v := num(x)) is not None:
            out[str(key)[: -len("_clock_mhz")]] = v
    return out


def _reasons(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value} if value else set()
    if isinstance(value, (list, tuple)):
        return {str(v) for v in value if v not in (None, "")}
    return set()


def device_state(env: Mapping[str, Any]) -> Environment:
    """The power limit, clocks, driver (preferring the reading under load), every throttle reason seen
    and the highest temperature, from `environment.device_state` and `environment.device`."""
    found = [*_blocks(as_dict(env.get("device_state"))), *_blocks(as_dict(env.get("device")))]
    blocks = sorted(found, key=lambda qb: _rank(qb[0]))  # stable: device_state before device
    limit: float | None = None
    clocks: dict[str, float] = {}
    driver = ""
    throttle: set[str] = set()
    temps: list[float] = []
    for _, block in blocks:
        if limit is None:
            limit = next((v for k in _LIMIT_KEYS if (v := num(block.get(k))) is not None), None)
        if not clocks:
            clocks = _clocks(block)
        driver = driver or str(block.get("driver") or block.get("driver_version") or "")
        for k in _THROTTLE_KEYS:
            throttle |= _reasons(block.get(k))
        temps += [v for k in ("temperature_c", "temperature_max_c") if (v := num(block.get(k))) is not None]
    return Environment(power_limit_w=limit, clocks_mhz=tuple(sorted(clocks.items())), driver=driver,
                       throttle_reasons=tuple(sorted(throttle)), temperature_c=max(temps) if temps else None)


def environment_of(env: Mapping[str, Any]) -> Environment:
    """The audit's Environment of a record's `environment` block."""
    device, versions = as_dict(env.get("device")), as_dict(env.get("versions"))
    state = device_state(env)
    top_clocks = {str(k): v for k, x in as_dict(env.get("clocks_mhz")).items() if (v := num(x)) is not None}
    limit = state.power_limit_w if state.power_limit_w is not None else num(env.get("power_limit_w"))
    return Environment(
        device_model=str(device.get("name") or ""),
        provider=str(env.get("provider_used") or ""),
        precision=str(env.get("precision") or ""),
        driver=str(versions.get("driver") or state.driver or ""),
        power_limit_w=limit,
        clocks_mhz=state.clocks_mhz or tuple(sorted(top_clocks.items())),
        throttle_reasons=tuple(sorted(set(state.throttle_reasons) | _reasons(env.get("throttle_reasons")))),
        temperature_c=state.temperature_c,
    )
