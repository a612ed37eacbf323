"""Which sources this host has: build them from specs, or look for every kind and say why each is missing.

Specs (`wattfleet telemetry --source`, AgentConfig.power_sources):
    nvml                 NVIDIA GPUs through NVML (nvml:0,2 = only those GPU indices)
    jetson[:ROOT]        Jetson INA3221/INA238 rails under ROOT (default /)
    rapl[:ROOT]          RAPL powercap counters under ROOT
    hwmon[:ROOT]         generic hwmon power/energy inputs under ROOT
    replay:PATH          a recorded trace, played once; replay-loop:PATH plays it in a loop
    estimated[:tdp_w=W[,idle_w=W][,root=ROOT]]   CPU utilisation x TDP, domain "estimated"
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from wattfleet.agent.telemetry.estimated import DEFAULT_TDP_W, EstimatedSource
from wattfleet.agent.telemetry.hwmon import HwmonSource
from wattfleet.agent.telemetry.jetson import JetsonSource
from wattfleet.agent.telemetry.nvml import NvmlSource
from wattfleet.agent.telemetry.rapl import RaplSource
from wattfleet.agent.telemetry.replay import ReplaySource
from wattfleet.agent.telemetry.source import Source, SourceUnavailable
from wattfleet.agent.telemetry.types import SourceStatus
from wattfleet.core.errors import UsageError

KINDS = ("nvml", "jetson", "rapl", "hwmon", "replay", "replay-loop", "estimated")
_DOMAINS = {"nvml": ("gpu-board", "gpu-module"), "jetson": ("soc-rail:*", "soc-input"),
            "rapl": ("cpu-package", "cpu-dram"), "hwmon": ("hwmon:*",), "replay": (), "replay-loop": (),
            "estimated": ("estimated",)}


def _kv(kind: str, arg: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in filter(None, arg.split(",")):
        key, sep, value = part.partition("=")
        if not sep:
            raise UsageError(f"source {kind}:{arg}: expected key=value, got {part!r} (e.g. estimated:tdp_w=65)")
        out[key.strip()] = value.strip()
    return out


def _float(spec: str, key: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"source {spec!r}: {key}={text!r} is not a number") from None


def _estimated(spec: str, arg: str, assumed: bool = False) -> EstimatedSource:
    kv = _kv("estimated", arg)
    unknown = set(kv) - {"tdp_w", "idle_w", "root"}
    if unknown:
        raise UsageError(f"source {spec!r}: unknown key(s) {', '.join(sorted(unknown))}; use tdp_w, idle_w, root")
    tdp = _float(spec, "tdp_w", kv["tdp_w"]) if "tdp_w" in kv else DEFAULT_TDP_W
    idle = _float(spec, "idle_w", kv["idle_w"]) if "idle_w" in kv else 0.0
    return EstimatedSource(tdp, idle, root=kv.get("root", "/"), assumed=assumed or "tdp_w" not in kv)


def _nvml(spec: str, arg: str, nvml: Any = None) -> NvmlSource:
    indices: list[int] | None = None
    if arg:
        try:
            indices = [int(x) for x in arg.split(",")]
        except ValueError:
            raise UsageError(f"source {spec!r}: GPU indices must be integers, e.g. nvml:0,1") from None
    return NvmlSource(nvml, indices)


def make_source(spec: str, *, nvml: Any = None) -> Source:
    """One source from a spec; raises SourceUnavailable (with the reason) or UsageError (bad spec)."""
    kind, _, arg = spec.strip().partition(":")
    makers: dict[str, Callable[[], Source]] = {
        "nvml": lambda: _nvml(spec, arg, nvml),
        "jetson": lambda: JetsonSource(arg or "/"),
        "rapl": lambda: RaplSource(arg or "/"),
        "hwmon": lambda: HwmonSource(arg or "/"),
        "replay": lambda: ReplaySource(arg),
        "replay-loop": lambda: ReplaySource(arg, loop=True),
        "estimated": lambda: _estimated(spec, arg),
    }
    if kind not in makers:
        raise UsageError(f"unknown power source {spec!r}; choose from {', '.join(KINDS)} (see --help)")
    if kind.startswith("replay") and not arg:
        raise UsageError(f"source {spec!r} needs a trace path: replay:/path/to/trace.csv")
    return makers[kind]()


def build_sources(specs: Sequence[str] = (), *, root: str = "/", nvml: Any = None, tdp_w: float | None = None
                  ) -> tuple[list[Source], list[SourceStatus]]:
    """The working sources and a status for every source looked for (available or not, and why).

    specs () = autodetect: NVML, Jetson rails, RAPL and hwmon under `root`; the estimate is added only
    when neither RAPL nor Jetson rails measure the CPU, and says so; `tdp_w` is its TDP (else a default,
    said to be assumed).
    """
    sources: list[Source] = []
    statuses: list[SourceStatus] = []

    def attempt(name: str, make: Callable[[], Source]) -> None:
        try:
            src = make()
        except SourceUnavailable as exc:
            statuses.append(SourceStatus(name, _DOMAINS.get(name, ()), False, str(exc)))
            return
        sources.append(src)
        statuses.append(src.status())

    if specs:
        for spec in specs:
            kind, _, arg = spec.strip().partition(":")
            if kind == "estimated" and tdp_w is not None and "tdp_w" not in arg:
                spec = f"estimated:tdp_w={tdp_w:g}" + (f",{arg}" if arg else "")
            attempt(kind, partial(make_source, spec, nvml=nvml))
        return sources, statuses
    attempt("nvml", lambda: NvmlSource(nvml))
    attempt("jetson", lambda: JetsonSource(root))
    attempt("rapl", lambda: RaplSource(root))
    attempt("hwmon", lambda: HwmonSource(root))
    if any(s.name == "rapl" or s.name.startswith("jetson") for s in sources):
        statuses.append(SourceStatus("estimated", ("estimated",), False,
                                     "not used: the CPU is measured (RAPL or Jetson rails)"))
    else:
        if tdp_w is None:
            attempt("estimated", lambda: EstimatedSource(root=root, assumed=True))
        else:
            attempt("estimated", lambda: EstimatedSource(tdp_w=tdp_w, root=root))
    return sources, statuses
