"""The profile tables `[workload]` (what is sent) and `[task]` (what counts as a correct answer), read
strictly from a parsed TOML dict into dataclasses. Errors name the file and dotted key, as profile.py's do.

    [workload]
    items = "prompts.jsonl"          # JSONL of prompts (items.py); else random token ids
    order = "seeded"                 # or "file"; the seed is load.seed
    add_special_tokens = true        # as Hugging Face's tokenizer(text) does
    stop_at_eos = true               # end each request at the model's EOS id (tokenizer.find_eos)
    input_lengths = {dist = "uniform", min = 16, max = 256}     # random-id prompts (replaces load.prompt_tokens)
    output_lengths = {dist = "lognormal", median = 120, sigma = 0.9, max = 1024}  # replaces load.output_tokens
    trace = "chat-trace.csv"         # lengths (and, for the server scenario, arrivals) from a trace (trace.py)
    trace_rate_scale = 2.0           # or trace_rate_qps = 8.0; server scenario only

    [task]
    scorer = "last-number"           # exact | contains | regex | last-number
    on = "text"                      # or "ids" (exact and contains only)
    case_sensitive = true
    strip = true

With items, load.output_tokens is the output limit of items without max_output_tokens. A [load] key that
a [workload] key replaces is refused when set to other than its default. File paths are kept as written;
the caller resolves them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wattfleet.agent.workloads.traffic.items import ORDERS
from wattfleet.agent.workloads.traffic.lengths import LengthDist, parse_length_dist
from wattfleet.agent.workloads.traffic.scorers import ON, SCORERS, TEXT_ONLY, ScorerSpec
from wattfleet.core.errors import ConfigError

TABLES = ("workload", "task")


@dataclass(frozen=True)
class WorkloadConfig:
    items: str = ""
    order: str = "seeded"
    add_special_tokens: bool = True
    stop_at_eos: bool = True
    input_lengths: LengthDist | None = None
    output_lengths: LengthDist | None = None
    trace: str = ""
    trace_rate_scale: float | None = None
    trace_rate_qps: float | None = None


@dataclass(frozen=True)
class TrafficConfig:
    workload: WorkloadConfig = field(default_factory=WorkloadConfig)
    task: ScorerSpec = field(default_factory=ScorerSpec)

    @property
    def uses_items(self) -> bool:
        return bool(self.workload.items)


def _err(source: str, key: str, msg: str) -> ConfigError:
    return ConfigError(f"{source or '<profile>'}: {key}: {msg}")


def _typed(source: str, key: str, value: Any, kind: type) -> Any:
    names = {str: "a string", bool: "true or false", float: "a number"}
    ok = isinstance(value, kind) if kind is not float else (
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value))
    if not ok:
        raise _err(source, key, f"expected {names[kind]}, got {value!r}")
    return float(value) if kind is float else value


def _table(data: Mapping[str, Any], name: str, source: str) -> Mapping[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, Mapping):
        raise _err(source, name, f"expected a table, got {table!r}")
    return table


def _workload(table: Mapping[str, Any], source: str) -> WorkloadConfig:
    kinds = {"items": str, "order": str, "add_special_tokens": bool, "stop_at_eos": bool, "trace": str,
             "trace_rate_scale": float, "trace_rate_qps": float}
    kw: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"workload.{key}"
        if key in ("input_lengths", "output_lengths"):
            kw[key] = parse_length_dist(value, f"{source or '<profile>'}: {dotted}")
        elif key in kinds:
            kw[key] = _typed(source, dotted, value, kinds[key])
        else:
            valid = sorted([*kinds, "input_lengths", "output_lengths"])
            raise _err(source, dotted, f"unknown key; expected one of {', '.join(valid)}")
    if kw.get("order", "seeded") not in ORDERS:
        raise _err(source, "workload.order", f"expected one of {', '.join(map(repr, ORDERS))}, got {kw['order']!r}")
    for key in ("items", "trace"):
        if key in kw and not kw[key]:
            raise _err(source, f"workload.{key}", "expected a file path, got an empty string")
    for key in ("trace_rate_scale", "trace_rate_qps"):
        if key in kw and kw[key] <= 0:
            raise _err(source, f"workload.{key}", f"expected a number > 0, got {table[key]!r}")
    return WorkloadConfig(**kw)


def _task(table: Mapping[str, Any], source: str) -> ScorerSpec:
    kinds = {"scorer": str, "on": str, "case_sensitive": bool, "strip": bool}
    kw: dict[str, Any] = {}
    for key, value in table.items():
        if key not in kinds:
            raise _err(source, f"task.{key}", f"unknown key; expected one of {', '.join(kinds)}")
        kw[key] = _typed(source, f"task.{key}", value, kinds[key])
    if "scorer" not in kw and kw:
        raise _err(source, "task.scorer", f"required in [task]; expected one of {', '.join(map(repr, SCORERS))}")
    if "scorer" in kw and kw["scorer"] not in SCORERS:
        raise _err(source, "task.scorer", f"expected one of {', '.join(map(repr, SCORERS))}, got {kw['scorer']!r}")
    if kw.get("on", "text") not in ON:
        raise _err(source, "task.on", f"expected one of {', '.join(map(repr, ON))}, got {kw['on']!r}")
    if kw.get("on") == "ids" and kw.get("scorer") in TEXT_ONLY:
        raise _err(source, "task.on", f"scorer {kw['scorer']!r} reads numbers or patterns in text; use on = 'text'")
    return ScorerSpec(**kw)


def _set(load: Mapping[str, Any], *keys: str) -> bool:
    """Whether the [load] table sets one of `keys` to other than its default (so a dict written back by
    profile_to_dict, which holds every default, reads as the file did)."""
    from wattfleet.agent.workloads.config import LoadConfig  # config.py holds a TrafficConfig: import late

    defaults = LoadConfig()
    names = {"rate": "rate_qps"}
    return any(k in load and load[k] != getattr(defaults, names.get(k, k)) for k in keys)


def _cross_check(t: TrafficConfig, data: Mapping[str, Any], source: str) -> None:
    w, load = t.workload, _table(data, "load", source)
    given = [k for k in ("items", "trace", "input_lengths") if getattr(w, k)]
    if len(given) > 1:
        raise _err(source, f"workload.{given[1]}", f"cannot be combined with workload.{given[0]}; prompts come "
                   "from one of items, trace or input_lengths")
    if w.trace and w.output_lengths is not None:
        raise _err(source, "workload.output_lengths", "cannot be combined with workload.trace, which sets them")
    for key, twin in (("input_lengths", "prompt_tokens"), ("output_lengths", "output_tokens")):
        if getattr(w, key) is not None and _set(load, twin):
            raise _err(source, f"workload.{key}", f"replaces load.{twin}; remove one")
    if w.trace and _set(load, "prompt_tokens"):
        raise _err(source, "load.prompt_tokens", "workload.trace sets the input lengths; remove one")
    if w.items and _set(load, "prompt_tokens"):
        raise _err(source, "load.prompt_tokens", "workload.items sets the prompts; remove one")
    scenario = load.get("scenario", "single-stream")
    sweep = load.get("sweep", {})
    rate_given = _set(load, "rate", "rate_qps", "arrival")
    if w.trace_rate_scale is not None or w.trace_rate_qps is not None:
        key = "trace_rate_scale" if w.trace_rate_scale is not None else "trace_rate_qps"
        if not w.trace:
            raise _err(source, f"workload.{key}", "needs workload.trace")
        if w.trace_rate_scale is not None and w.trace_rate_qps is not None:
            raise _err(source, "workload.trace_rate_qps", "give trace_rate_scale or trace_rate_qps, not both")
        if scenario != "server":
            raise _err(source, f"workload.{key}", f"scales arrival times, which only the server scenario has "
                       f"(load.scenario is {scenario!r})")
    if w.trace and scenario == "server" and rate_given:
        raise _err(source, "load.rate", "workload.trace sets the arrival times; remove load.rate/load.arrival "
                   "or scale the trace with workload.trace_rate_qps")
    if w.trace and scenario == "sweep" and isinstance(sweep, Mapping) and sweep.get("over", "rate") == "rate":
        raise _err(source, "workload.trace", "a trace sets its own arrivals; sweep over concurrency instead")
    if (w.items or w.trace or w.input_lengths) and load.get("batch_size", 1) != 1:
        raise _err(source, "load.batch_size", "prompts of different lengths cannot share a batch yet; use "
                   "batch_size = 1 with workload.items, trace or input_lengths")
    if (w.items or w.trace or w.input_lengths or w.output_lengths) and load.get("harness", "native") == "loadgen":
        raise _err(source, "load.harness", "MLPerf LoadGen chooses its own samples; run workload.items, trace or "
                   "lengths with harness = \"native\"")
    if t.task.scorer and not w.items:
        raise _err(source, "task.scorer", "needs workload.items with expected answers")


def traffic_from_dict(data: Mapping[str, Any], source: str = "<profile>") -> TrafficConfig:
    """[workload] and [task] of one parsed profile (the other tables are profile.py's)."""
    traffic = TrafficConfig(workload=_workload(_table(data, "workload", source), source),
                            task=_task(_table(data, "task", source), source))
    _cross_check(traffic, data, source)
    return traffic


def without_traffic(data: Mapping[str, Any]) -> dict[str, Any]:
    """The profile dict less [workload] and [task], for profile_from_dict until it knows them."""
    return {k: v for k, v in data.items() if k not in TABLES}


def traffic_to_dict(t: TrafficConfig) -> dict[str, Any]:
    """TOML-shaped tables (only what differs from the defaults); traffic_from_dict reads them back."""
    out: dict[str, Any] = {}
    workload: dict[str, Any] = {}
    for f in dataclasses.fields(WorkloadConfig):
        value = getattr(t.workload, f.name)
        if value != f.default:
            workload[f.name] = value.to_dict() if isinstance(value, LengthDist) else value
    if workload:
        out["workload"] = workload
    if t.task.scorer:
        out["task"] = dataclasses.asdict(t.task)
    return out
