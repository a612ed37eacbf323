"""The agent's door to the workload engine: turn a RunSpec into a checked Profile and list profiles.
Everything a remote client may not do is refused here.

Refusals are RpcError with the gRPC status code name the servicer answers with:
- INVALID_ARGUMENT: a bad profile, override, label or device selector, or a workload file that does not
  read (a line that is not JSON, a trace with negative times, a text prompt with no tokenizer.json beside
  the model: the validation message, naming the file and line);
- PERMISSION_DENIED: a model path, or a workload file (workload.items, workload.trace), outside the
  agent's model directories (after resolving symlinks), or a TensorRT cache directory outside the agent's
  data directory;
- NOT_FOUND: a profile name the agent does not know;
- FAILED_PRECONDITION: a power-limit sweep on an agent not started with --allow-power-limits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wattfleet.agent.service.config import AgentConfig
from wattfleet.agent.workloads.config import Profile
from wattfleet.core.errors import ConfigError, WattfleetError
from wattfleet.core.model import ProfileInfo, RunSpec

MAX_PROFILE_TOML_BYTES = 64 * 1024
MAX_OVERRIDES = 64
MAX_LABELS = 32
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 1024
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_DEVICE = re.compile(r"^(cpu|gpu:(\d{1,3}))$")


class RpcError(WattfleetError):
    """A request the agent refuses; `code` is a grpc.StatusCode name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Prepared:
    """A run spec checked and resolved: the profile to run and the device it holds."""

    profile: Profile
    profile_text: str
    profile_dict: dict[str, Any]
    device: str
    notes: tuple[str, ...] = ()  # what the agent changed, told to watchers as notices


def _check_strings(what: str, mapping: dict[str, str], limit: int) -> None:
    if len(mapping) > limit:
        raise RpcError("INVALID_ARGUMENT", f"RunSpec.{what}: {len(mapping)} entries; at most {limit} allowed")
    for key, value in mapping.items():
        if not key or len(key) > MAX_KEY_CHARS or len(value) > MAX_VALUE_CHARS:
            raise RpcError(
                "INVALID_ARGUMENT",
                f"RunSpec.{what}: key {key[:40]!r} is empty or too long (keys up to {MAX_KEY_CHARS} "
                f"characters, values up to {MAX_VALUE_CHARS})",
            )
        if "\x00" in key or "\x00" in value:
            raise RpcError("INVALID_ARGUMENT", f"RunSpec.{what}: {key[:40]!r} contains a NUL character")


def _find_named(name: str, config: AgentConfig) -> tuple[Profile, str]:
    from wattfleet.agent.workloads.profile import builtin_profile_text, builtin_profiles, load_profile_text

    if not _NAME.match(name) or name.endswith(".toml") or ".." in name:
        raise RpcError(
            "INVALID_ARGUMENT",
            f"RunSpec.profile {name[:80]!r} is not a profile name (letters, digits, '.', '_', '-'); "
            "send a file's contents in profile_toml instead of a path",
        )
    for d in config.profile_dirs:
        path = Path(d) / f"{name}.toml"
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            return load_profile_text(text, source=str(path)), text
    builtin = builtin_profile_text(name)
    if builtin is None:
        known = ", ".join(p.name for p in builtin_profiles())
        raise RpcError("NOT_FOUND", f"no profile named {name!r} on this agent; known: {known}")
    return load_profile_text(builtin, source=f"profiles/{name}.toml"), builtin


def check_model_path(path: str, model_dirs: Sequence[Path], key: str = "model.path") -> str:
    """The real path of a model file (or a workload file: `key` names the profile key) inside one of
    `model_dirs`, or a refusal that says why."""
    what = "model" if key == "model.path" else "file"
    if not model_dirs:
        raise RpcError(
            "PERMISSION_DENIED",
            f"{key} {path!r}: this agent serves no model directories (start it with --model-dir DIR); "
            + ("built-in models (model.builtin) are always allowed" if key == "model.path" else
               "workload files are read only from them"),
        )
    roots = [Path(d).resolve() for d in model_dirs]
    given = Path(path)
    candidates = [given] if given.is_absolute() else [root / given for root in roots]
    inside_missing = ""
    for candidate in candidates:
        real = candidate.resolve()
        if any(real == root or real.is_relative_to(root) for root in roots):
            if real.is_file():
                return str(real)
            inside_missing = str(real)
    if inside_missing:
        raise RpcError(
            "INVALID_ARGUMENT",
            f"{key} {path!r}: no such file in the agent's model directories ({', '.join(map(str, roots))})",
        )
    raise RpcError(
        "PERMISSION_DENIED",
        f"{key} {path!r} resolves outside the agent's model directories "
        f"({', '.join(map(str, roots))}); copy the {what} into one of them",
    )


def _check_power_limits(profile: Profile, config: AgentConfig) -> None:
    """A power-limit sweep changes the host's power limits: only where its owner allowed it."""
    from wattfleet.agent.workloads.config import sweeps_power_limit

    if sweeps_power_limit(profile.load) and not config.allow_power_limits:
        raise RpcError(
            "FAILED_PRECONDITION",
            f"{profile.name}: load.sweep.over = \"power_limit\" sets this host's power limits, which this agent "
            f"({config.host_id or 'this host'}) does not allow; its owner can start it with --allow-power-limits",
        )


def _workload_files(profile: Profile, model_dirs: Sequence[Path]) -> Profile:
    """workload.items and workload.trace resolved like model paths (inside the model directories only),
    then read and checked: a run never starts with a file that does not parse."""
    from wattfleet.agent.workloads.profile import apply_overrides
    from wattfleet.agent.workloads.traffic.source import check_files

    w = profile.traffic.workload
    paths = {key: check_model_path(value, model_dirs, key)
             for key, value in (("workload.items", w.items), ("workload.trace", w.trace)) if value}
    try:
        profile = apply_overrides(profile, paths) if paths else profile
        check_files(profile, Path(profile.model.path) if profile.model.path else None)
    except ConfigError as exc:
        raise RpcError("INVALID_ARGUMENT", str(exc)) from exc
    return profile


def prepare(spec: RunSpec, config: AgentConfig) -> Prepared:
    """Check a spec from the wire and resolve it to the profile that will run."""
    from wattfleet.agent.workloads.profile import apply_overrides, load_profile_text, profile_to_dict

    _check_strings("overrides", spec.overrides, MAX_OVERRIDES)
    _check_strings("labels", spec.labels, MAX_LABELS)
    if len(spec.profile_toml.encode("utf-8", "replace")) > MAX_PROFILE_TOML_BYTES:
        raise RpcError("INVALID_ARGUMENT", f"RunSpec.profile_toml is larger than {MAX_PROFILE_TOML_BYTES} bytes")
    if bool(spec.profile) == bool(spec.profile_toml):
        raise RpcError("INVALID_ARGUMENT", "RunSpec: give exactly one of profile (a name) or profile_toml")
    overrides = dict(spec.overrides)
    notes: list[str] = []
    m = _DEVICE.match(spec.device) if spec.device else None
    if spec.device and m is None:
        raise RpcError(
            "INVALID_ARGUMENT", f"RunSpec.device {spec.device[:40]!r}: expected 'cpu' or 'gpu:N' (e.g. gpu:0)"
        )
    if m is not None and m.group(2) is not None:
        overrides["runtime.device_id"] = m.group(2)
    try:
        if spec.profile:
            profile, text = _find_named(spec.profile, config)
        else:
            profile, text = load_profile_text(spec.profile_toml, source="RunSpec.profile_toml"), spec.profile_toml
        profile = apply_overrides(profile, overrides)
        from wattfleet.agent.workloads.scenarios import resolve_load

        if (resolve_load(profile.load).max_duration_s or 0.0) > config.max_run_s:  # the agent's cap wins
            capped = {"load.max_duration_s": str(config.max_run_s)}
            if profile.load.min_duration_s > config.max_run_s:
                capped["load.min_duration_s"] = str(config.max_run_s)
            profile = apply_overrides(profile, capped)
            notes.append(
                f"load.max_duration_s capped at this agent's limit of {config.max_run_s:g} s (--max-run-s); "
                "the whole run, preparation included, is stopped at that limit"
            )
    except ConfigError as exc:
        raise RpcError("INVALID_ARGUMENT", str(exc)) from exc
    if profile.model.builtin:
        from wattfleet.agent.workloads.models import builtin_names

        if profile.model.builtin not in builtin_names():
            raise RpcError(
                "INVALID_ARGUMENT",
                f"model.builtin {profile.model.builtin[:80]!r} is not a built-in model; "
                f"choose from {', '.join(builtin_names())}",
            )
    if profile.model.path:
        real = check_model_path(profile.model.path, config.model_dirs)
        try:
            profile = apply_overrides(profile, {"model.path": real})
        except ConfigError as exc:
            raise RpcError("INVALID_ARGUMENT", str(exc)) from exc
    profile = _workload_files(profile, config.model_dirs)
    if profile.runtime.cache_dir:
        cache_root = (config.data_dir / "cache").resolve()
        real_cache = Path(profile.runtime.cache_dir).resolve()
        if not (real_cache == cache_root or real_cache.is_relative_to(cache_root)):
            raise RpcError(
                "PERMISSION_DENIED",
                f"runtime.cache_dir {profile.runtime.cache_dir!r} is outside the agent's cache directory "
                f"{cache_root}; leave it empty to use that one",
            )
    _check_power_limits(profile, config)
    device = spec.device or ("cpu" if profile.runtime.provider == "cpu" else f"gpu:{profile.runtime.device_id}")
    if spec.device == "cpu" and profile.runtime.provider != "cpu":
        raise RpcError(
            "INVALID_ARGUMENT",
            f"RunSpec.device 'cpu' but the profile's runtime.provider is {profile.runtime.provider!r}",
        )
    if spec.device.startswith("gpu:") and profile.runtime.provider == "cpu":
        raise RpcError(
            "INVALID_ARGUMENT",
            f"RunSpec.device {spec.device!r} but the profile's runtime.provider is 'cpu': the run would not use "
            "that GPU; set runtime.provider (cuda, tensorrt) or leave device empty",
        )
    return Prepared(profile, text, profile_to_dict(profile), device, tuple(notes))


def list_profiles(config: AgentConfig) -> list[ProfileInfo]:
    """Built-in profiles plus those in the agent's profile directories (a directory's file wins)."""
    from wattfleet.agent.workloads.profile import builtin_profile_text, builtin_profiles, load_profile

    found: dict[str, ProfileInfo] = {}

    def info(p: Profile, text: str) -> ProfileInfo:
        model = p.model.builtin or p.model.path
        return ProfileInfo(p.name, p.description, model, p.load.scenario, p.runtime.provider, text)

    for p in builtin_profiles():
        stem = Path(p.source).stem if p.source else p.name
        found[stem] = info(p, builtin_profile_text(stem) or "")
    for d in config.profile_dirs:
        for path in sorted(Path(d).glob("*.toml")):
            try:
                found[path.stem] = info(load_profile(path), path.read_text(encoding="utf-8"))
            except (ConfigError, OSError):
                continue  # a broken file is reported when someone asks to run it
    return [found[k] for k in sorted(found)]
