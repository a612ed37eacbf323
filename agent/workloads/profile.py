"""Profiles: TOML files (profiles/*.toml) loaded into the dataclasses of config.py, strictly validated.

Every error names the file, the dotted key and what was expected, e.g.
"profiles/x.toml: load.rate: expected a number > 0, got -1".
"""

from __future__ import annotations

import dataclasses
import math
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from wattfleet.agent.figures.validity import claimed_percentile, inner_scenario, needed_queries
from wattfleet.agent.workloads.config import (
    ARRIVALS,
    HARNESSES,
    MODEL_KINDS,
    PERCENTILE_METHODS,
    PRECISIONS,
    PROVIDERS,
    SCENARIOS,
    SWEEP_INNER,
    SWEEP_OVER,
    FiguresConfig,
    LoadConfig,
    ModelConfig,
    Profile,
    QualityConfig,
    RuntimeConfig,
    SloConfig,
    SweepConfig,
)
from wattfleet.agent.workloads.traffic.scorers import ScorerSpec
from wattfleet.agent.workloads.traffic.spec import TABLES as TRAFFIC_TABLES
from wattfleet.agent.workloads.traffic.spec import WorkloadConfig, traffic_from_dict, traffic_to_dict
from wattfleet.core.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - JetPack 6 ships Python 3.10
    import tomli as tomllib

# TOML spellings that differ from the field names (both are accepted; the record writes field names).
ALIASES: dict[str, str] = {"load.rate": "load.rate_qps"}
_TABLES: dict[str, type] = {
    "model": ModelConfig,
    "runtime": RuntimeConfig,
    "load": LoadConfig,
    "load.sweep": SweepConfig,
    "slo": SloConfig,
    "quality": QualityConfig,
    "figures": FiguresConfig,
}
_CHOICES: dict[str, tuple[str, ...]] = {
    "model.kind": MODEL_KINDS,
    "runtime.provider": PROVIDERS,
    "runtime.precision": PRECISIONS,
    "load.scenario": SCENARIOS,
    "load.arrival": ARRIVALS,
    "load.sweep.over": SWEEP_OVER,
    "load.sweep.inner": SWEEP_INNER,
    "quality.reference_provider": ("", *PROVIDERS),
    "quality.reference_precision": PRECISIONS,
    "load.harness": HARNESSES,
    "figures.percentiles": PERCENTILE_METHODS,
}
# Keys whose default is None, so a profile's dict form may lack them (overrides may still set them).
_OPTIONAL_KEYS = ("load.min_queries", "load.max_duration_s", "load.target_latency_percentile")
# key -> (lowest allowed, whether the bound itself is allowed)
_BOUNDS: dict[str, tuple[float, bool]] = {
    "runtime.device_id": (0, True),
    "runtime.intra_op_threads": (0, True),
    "load.prompt_tokens": (1, True),
    "load.output_tokens": (1, True),
    "load.batch_size": (1, True),
    "load.rate_qps": (0, False),
    "load.gamma_shape": (0, False),
    "load.concurrency": (1, True),
    "load.seed": (0, True),
    "load.warmup_queries": (0, True),
    "load.min_duration_s": (0, True),
    "load.min_queries": (0, True),
    "load.max_duration_s": (0, False),
    "load.max_queries": (1, True),
    "load.server_workers": (0, True),
    "load.target_latency_percentile": (0, True),
    "load.expected_qps": (0, True),
    "slo.ttft_ms": (0, False),
    "slo.tpot_ms": (0, False),
    "slo.e2el_ms": (0, False),
}


def _err(source: str, key: str, msg: str) -> ConfigError:
    return ConfigError(f"{source or '<profile>'}: {key}: {msg}")


def _type_name(tp: Any) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


def _convert(source: str, key: str, tp: Any, value: Any) -> Any:
    """Check one TOML value against its field type and return it as that type."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):  # float | None
        inner = next(a for a in typing.get_args(tp) if a is not type(None))
        return _convert(source, key, inner, value)
    if origin is tuple:
        if not isinstance(value, list):
            raise _err(source, key, f"expected a list of numbers, got {value!r}")
        return tuple(_convert(source, f"{key}[{i}]", float, v) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise _err(source, key, f"expected a table of name = integer, got {value!r}")
        out: dict[str, int] = {}
        for k, v in value.items():
            iv = _convert(source, f"{key}.{k}", int, v)
            if iv < 1:
                raise _err(source, f"{key}.{k}", f"expected an integer >= 1, got {v!r}")
            out[str(k)] = iv
        return out
    if tp is bool:
        if not isinstance(value, bool):
            raise _err(source, key, f"expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _err(source, key, f"expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _err(source, key, f"expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise _err(source, key, f"expected a string, got {value!r}")
        return value
    raise _err(source, key, f"unsupported field type {tp!r}")  # pragma: no cover - a bug in config.py


def _check_value(source: str, key: str, written: str, value: Any, raw: Any) -> None:
    """Range and choice checks on a converted value; errors name the key as written, the raw value."""
    if key in _CHOICES and value not in _CHOICES[key]:
        choices = ", ".join(repr(c) for c in _CHOICES[key])
        raise _err(source, written, f"expected one of {choices}, got {raw!r}")
    if key in _BOUNDS and value is not None:
        low, inclusive = _BOUNDS[key]
        if value < low or (not inclusive and value == low):
            kind = "an integer" if isinstance(value, int) else "a number"
            raise _err(source, written, f"expected {kind} {'>=' if inclusive else '>'} {low:g}, got {raw!r}")
    if key == "load.sweep.values":
        for i, v in enumerate(raw):
            if v <= 0:
                raise _err(source, f"{written}[{i}]", f"expected a number > 0, got {v!r}")


def _build(source: str, prefix: str, cls: type, table: Any, given: set[str]) -> Any:
    """The dataclass `cls` from one TOML table; every key written is added to `given`."""
    if not isinstance(table, dict):
        raise _err(source, prefix, f"expected a table, got {table!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)} - {"source"}
    kwargs: dict[str, Any] = {}
    for raw_key, value in table.items():
        written = f"{prefix}.{raw_key}"
        field_key = ALIASES.get(written, written)
        name = field_key.rsplit(".", 1)[1]
        if name not in names or (field_key in _TABLES and not isinstance(value, dict)):
            if name in names:
                raise _err(source, written, f"expected a table, got {value!r}")
            valid = sorted(names | {a.rsplit(".", 1)[1] for a in ALIASES if a.startswith(prefix + ".")})
            raise _err(source, written, f"unknown key; expected one of {', '.join(valid)}")
        if name in kwargs:
            raise _err(source, written, "given twice (under its alias and its name)")
        given.add(field_key)
        if field_key in _TABLES:
            kwargs[name] = _build(source, field_key, _TABLES[field_key], value, given)
            continue
        converted = _convert(source, written, hints[name], value)
        _check_value(source, field_key, written, converted, value)
        kwargs[name] = converted
        if isinstance(converted, dict):
            given.update(f"{field_key}.{k}" for k in converted)
    return cls(**kwargs)


def _cross_check(p: Profile) -> None:
    src = p.source
    if bool(p.model.builtin) == bool(p.model.path):
        raise _err(src, "model", "expected exactly one of model.builtin or model.path")
    ld = p.load
    if ld.max_duration_s is not None and ld.max_duration_s < ld.min_duration_s:
        raise _err(src, "load.max_duration_s", f"expected >= load.min_duration_s ({ld.min_duration_s:g})")
    if ld.min_queries is not None and ld.max_queries < ld.min_queries:
        raise _err(src, "load.max_queries", f"expected >= load.min_queries ({ld.min_queries})")
    if ld.scenario == "sweep":
        if not ld.sweep.values:
            raise _err(src, "load.sweep.values", "expected a non-empty list for the sweep scenario")
        if ld.sweep.over == "concurrency" and any(v != int(v) for v in ld.sweep.values):
            raise _err(src, "load.sweep.values", "expected whole numbers when sweeping over concurrency")
        _check_power_limit_sweep(p)
    _check_claim(p)
    _check_harness(p)


def _check_power_limit_sweep(p: Profile) -> None:
    """load.sweep.inner belongs to power-limit sweeps; their values are watts, each set once."""
    sw = p.load.sweep
    if sw.over != "power_limit":
        if sw.inner:
            raise _err(p.source, "load.sweep.inner", f"only a power_limit sweep has an inner scenario; a {sw.over} "
                       "sweep runs " + ("server" if sw.over == "rate" else "concurrency") + " levels: leave it out")
        return
    if len(set(sw.values)) != len(sw.values):
        raise _err(p.source, "load.sweep.values", "a power limit is listed twice; list each limit (W) once")


def _check_claim(p: Profile) -> None:
    """Refuse, before anything runs, a profile whose query counts cannot support the percentile it claims
    (LoadGen's early-stopping minimum: 64 queries for p90, 662 for p99)."""
    src, ld = p.source, p.load
    scenario = inner_scenario(ld)
    target = ld.target_latency_percentile
    if target is not None and target > 99.99:
        raise _err(src, "load.target_latency_percentile", f"expected 0 (no claim) or a percentile up to 99.99, "
                   f"got {target:g}")
    if target and scenario == "offline":
        raise _err(src, "load.target_latency_percentile", "offline measures throughput and claims no latency "
                   "percentile; leave the key out")
    claim = claimed_percentile(scenario, target)
    if claim is None:
        return
    need = needed_queries(ld)
    what = f"a p{claim:g} claim ({scenario}) needs at least {need} queries (MLPerf LoadGen early stopping)"
    hint = "leave it out for that default, or set load.target_latency_percentile = 0 to claim none"
    if ld.min_queries is not None and ld.min_queries < need:
        raise _err(src, "load.min_queries", f"{ld.min_queries} is too few: {what}; {hint}")
    if ld.max_queries < need:
        raise _err(src, "load.max_queries", f"{ld.max_queries} cannot reach them: {what}")
    # None: derived to fit (scenarios.resolve_load); a trace's arrivals are checked when the trace is read
    if scenario == "server" and ld.max_duration_s is not None and not p.traffic.workload.trace:
        _check_server_schedule(p, ld.min_queries or need, claim)


def _check_server_schedule(p: Profile, count: int, claim: float) -> None:
    """The seeded arrival schedule must hold `count` arrivals within max_duration_s, at every rate it runs."""
    from wattfleet.agent.workloads.scenarios import arrival_offsets_ns  # numpy: agent side only

    ld = p.load
    max_s = ld.max_duration_s or 0.0
    rates = ld.sweep.values if ld.scenario == "sweep" and ld.sweep.over == "rate" else (ld.rate_qps,)
    max_ns = max_s * 1e9
    for rate in sorted(rates):
        offsets = arrival_offsets_ns(count, rate, ld.arrival, ld.gamma_shape, ld.seed)
        if offsets[-1] > max_ns:
            held = sum(1 for o in offsets if o <= max_ns)
            raise _err(p.source, "load.max_duration_s",
                       f"{max_s:g} s holds {held} of the {count} arrivals a p{claim:g} claim needs at "
                       f"{rate:g} queries/s (seed {ld.seed}); raise it to at least {math.ceil(offsets[-1] / 1e9)} s, "
                       "or lower load.target_latency_percentile")


def _check_harness(p: Profile) -> None:
    """What MLPerf LoadGen can issue: its own scenarios, Poisson arrivals, one sample per query."""
    ld = p.load
    if ld.harness != "loadgen":
        return
    if ld.scenario not in ("single-stream", "server", "offline"):
        raise _err(p.source, "load.harness", f"'loadgen' runs LoadGen's scenarios (single-stream, server, offline), "
                   f"not {ld.scenario}; use harness = \"native\" for it")
    if ld.scenario == "server" and ld.arrival != "poisson":
        raise _err(p.source, "load.arrival", "LoadGen's server scenario issues Poisson arrivals only")
    if ld.scenario != "offline" and ld.batch_size != 1:
        raise _err(p.source, "load.batch_size", f"LoadGen issues one sample per query in {ld.scenario}; "
                   "expected 1")


def load_profile_text(text: str, source: str = "<profile>") -> Profile:
    """Parse and validate one profile; `source` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    return profile_from_dict(data, source=source)


def profile_from_dict(data: Mapping[str, Any], source: str = "<profile>") -> Profile:
    data = dict(data)
    name = data.pop("name", Path(source).stem if source.endswith(".toml") else "")
    if not isinstance(name, str) or not name:
        raise _err(source, "name", f"expected a non-empty string, got {name!r}")
    description = data.pop("description", "")
    if not isinstance(description, str):
        raise _err(source, "description", f"expected a string, got {description!r}")
    kwargs: dict[str, Any] = {}
    given: set[str] = set()
    for key, value in data.items():
        if key in TRAFFIC_TABLES:
            if isinstance(value, Mapping):
                given.update(f"{key}.{k}" for k in value)
            continue
        if key not in _TABLES or "." in key:
            tables = [*(k for k in _TABLES if "." not in k), *TRAFFIC_TABLES]
            raise _err(source, key, f"unknown key; expected name, description or one of the tables "
                       f"[{'], ['.join(tables)}]")
        kwargs[key] = _build(source, key, _TABLES[key], value, given)
    kwargs["traffic"] = traffic_from_dict(data, source)
    profile = Profile(name=name, description=description, source=source, given=frozenset(given), **kwargs)
    _cross_check(profile)
    return profile


def load_profile(path: str | Path) -> Profile:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{p}: profile file not found; give a path or a built-in profile name") from exc
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the profile: {exc.strerror}") from exc
    return load_profile_text(text, source=str(p))


def profile_to_dict(profile: Profile) -> dict[str, Any]:
    """The profile as TOML-shaped data (field names, no `source`); profile_from_dict() reads it back."""
    out: dict[str, Any] = {"name": profile.name, "description": profile.description}
    for key in ("model", "runtime", "load", "slo", "quality", "figures"):
        table = dataclasses.asdict(getattr(profile, key))
        if key == "load":
            table["sweep"]["values"] = list(table["sweep"]["values"])
        if key in ("slo", "load"):  # None = left to its default (see config.py); TOML has no null
            table = {k: v for k, v in table.items() if v is not None}
        out[key] = table
    out.update(traffic_to_dict(profile.traffic))
    return out


def _traffic_default(key: str) -> Any:
    """The default of a [workload] or [task] key (those tables are absent from a profile's dict when
    unset), so an override is read as its type; 0.0 for a key that does not exist (refused later)."""
    table, _, leaf = key.partition(".")
    defaults: Any = WorkloadConfig() if table == "workload" else ScorerSpec()
    return getattr(defaults, leaf, 0.0) if "." not in leaf else 0.0


def _parse_override(text: str, current: Any) -> Any:
    """A string from the command line or the wire, read as the type of the value it replaces."""
    low = text.strip().lower()
    if isinstance(current, bool):
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        return text
    if isinstance(current, (list, tuple)):
        return [_parse_scalar(t) for t in text.split(",") if t.strip()]
    if isinstance(current, str):
        return text
    return _parse_scalar(text)


def _parse_scalar(text: str) -> Any:
    t = text.strip()
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            continue
    return t


def apply_overrides(profile: Profile, overrides: Mapping[str, str]) -> Profile:
    """A new profile with dotted keys replaced, e.g. {"load.rate": "4", "model.dims.seq": "128"}.

    Values are strings (from a command line or RunSpec.overrides) read as the type of the field they
    replace; the result is validated like a file. Errors name the override. The keys given are the
    profile's own plus the overridden ones."""
    if not overrides:
        return profile
    data = profile_to_dict(profile)
    source = f"{profile.source or profile.name} (with overrides)"
    for raw_key, text in overrides.items():
        key = ALIASES.get(raw_key, raw_key)
        parts = key.split(".")
        node: Any = data
        traffic = parts[0] in TRAFFIC_TABLES
        if traffic and len(parts) > 1:
            data.setdefault(parts[0], {})
        for part in parts[:-1]:
            if not isinstance(node, dict) or part not in node or not isinstance(node[part], dict):
                raise ConfigError(f"override {raw_key}={text}: unknown key {raw_key!r}")
            node = node[part]
        leaf = parts[-1]
        allow_new = parts[:-1] in (["model", "dims"], ["slo"]) or key in _OPTIONAL_KEYS or (traffic and len(parts) == 2)
        if leaf not in node and not allow_new:
            raise ConfigError(f"override {raw_key}={text}: unknown key {raw_key!r}")
        current = node.get(leaf, _traffic_default(key) if traffic else 0.0)
        if raw_key != key:  # keep the spelling the caller used, so errors name it
            del node[leaf]
            leaf = raw_key.rsplit(".", 1)[1]
        node[leaf] = _parse_override(text, current)
        if leaf in ("builtin", "path") and parts[0] == "model":
            node["path" if leaf == "builtin" else "builtin"] = ""
    given = profile.given | {ALIASES.get(k, k) for k in overrides}
    return dataclasses.replace(profile_from_dict(data, source=source), given=frozenset(given))


def builtin_profiles() -> list[Profile]:
    """The profiles shipped in the wattfleet.profiles package, sorted by name."""
    out = []
    for entry in resources.files("wattfleet.profiles").iterdir():
        if entry.name.endswith(".toml"):
            out.append(load_profile_text(entry.read_text(encoding="utf-8"), source=f"profiles/{entry.name}"))
    return sorted(out, key=lambda p: p.name)


def builtin_profile_text(name: str) -> str | None:
    for entry in resources.files("wattfleet.profiles").iterdir():
        if entry.name == f"{name}.toml":
            return entry.read_text(encoding="utf-8")
    return None


def find_profile(name_or_path: str, profile_dirs: Sequence[Path] = ()) -> tuple[Profile, str]:
    """A profile by file path, by name in profile_dirs, or by built-in name; returns it and its text."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.is_file():
        profile = load_profile(candidate)
        return profile, candidate.read_text(encoding="utf-8")
    for d in profile_dirs:
        path = Path(d) / f"{name_or_path}.toml"
        if path.is_file():
            return load_profile(path), path.read_text(encoding="utf-8")
    text = builtin_profile_text(name_or_path)
    if text is None:
        names = ", ".join(p.name for p in builtin_profiles())
        raise ConfigError(f"no profile {name_or_path!r}: not a file, and not a built-in profile ({names})")
    return load_profile_text(text, source=f"profiles/{name_or_path}.toml"), text
