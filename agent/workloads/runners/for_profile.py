"""Open the runner a profile asks for, after every check that can be made before the run starts.

    opened = open_profile(profile, model_dirs=[...], cache_dir=...)
    opened.runner, opened.profile   # the profile as it runs: sequence axis bound, server workers chosen

The quality reference (quality.reference_provider / quality.reference_model) is checked here, before the
measurement, so a run never measures for minutes and then fails on a reference that cannot open.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime as ort

from wattfleet.agent.figures.validity import inner_scenario
from wattfleet.agent.workloads.config import ModelConfig, Profile, RuntimeConfig
from wattfleet.agent.workloads.runners.onnx import open_runner
from wattfleet.agent.workloads.runners.ort_session import ORT_PROVIDERS
from wattfleet.agent.workloads.runners.plan import server_workers
from wattfleet.agent.workloads.runners.resolve import find_model_file
from wattfleet.core.errors import UsageError


@dataclass(frozen=True)
class Opened:
    runner: Any
    profile: Profile  # what runs: model.dims with the bound sequence axis, load.server_workers resolved


def wants_reference(profile: Profile) -> bool:
    """Whether the run ends with a quality comparison."""
    return bool(profile.quality.reference_provider or profile.quality.reference_model)


def reference_model(profile: Profile) -> ModelConfig:
    """The model to compare with: quality.reference_model (a built-in name or a path, like model.path)
    with the profile's dims, context and kind, or the profile's own model."""
    name = profile.quality.reference_model
    if not name:
        return profile.model
    from wattfleet.agent.workloads.models import builtin_names

    if name in builtin_names():
        return dataclasses.replace(profile.model, builtin=name, path="")
    return dataclasses.replace(profile.model, builtin="", path=name)


def reference_runtime(profile: Profile) -> RuntimeConfig:
    """quality.reference_provider at quality.reference_precision; without a reference provider, the
    profile's own provider and its fallback setting (the reference then runs where the run ran)."""
    q, runtime = profile.quality, profile.runtime
    return RuntimeConfig(provider=q.reference_provider or runtime.provider, precision=q.reference_precision,
                         fallback=runtime.fallback and not q.reference_provider, device_id=runtime.device_id,
                         intra_op_threads=runtime.intra_op_threads, cache_dir=runtime.cache_dir)


def check_reference(profile: Profile, model_dirs: Sequence[Path]) -> None:
    """Refuse a reference that cannot open here: a model file that does not exist (or lies outside the
    model directories), or a provider this host cannot run (probed with a tiny model, as GetInfo does)."""
    q = profile.quality
    if q.reference_model:
        model = reference_model(profile)
        if model.path:
            find_model_file(model.path, model_dirs, key="quality.reference_model")
    if not wants_reference(profile):
        return
    runtime = reference_runtime(profile)
    provider = runtime.provider
    key = "quality.reference_provider" if q.reference_provider else "runtime.provider (the reference's)"
    if provider == "cpu" or runtime.fallback:
        return
    if provider == "tensorrt-native":
        from wattfleet.agent.workloads.runners.trt_native import import_tensorrt

        try:
            import_tensorrt()
        except UsageError as exc:
            raise UsageError(f"{key} 'tensorrt-native': {exc}") from exc
        return
    name = ORT_PROVIDERS[provider]
    available = ort.get_available_providers()
    if name not in available:
        raise UsageError(f"{key} {provider!r}: {name} is not in this onnxruntime build (it offers "
                         f"{', '.join(available)}); choose one of those, e.g. 'cpu'")
    from wattfleet.agent.workloads.providers import probe_provider

    probe = probe_provider(name)
    if not probe.works:
        raise UsageError(f"{key} {provider!r} does not work on this host: {probe.detail}; choose a provider "
                         "that does, e.g. 'cpu'")


def open_profile(profile: Profile, *, model_dirs: Sequence[Path] = (), cache_dir: Path | None = None) -> Opened:
    """Check the reference, open the runner with the profile's load and given keys, choose the server
    workers (runners.plan.server_workers); the runner's environment records what was decided."""
    check_reference(profile, model_dirs)
    runner = open_runner(profile.model, profile.runtime, model_dirs=model_dirs, cache_dir=cache_dir,
                         load=profile.load, given=profile.given)
    effective = profile
    inputs = getattr(runner, "inputs", None)  # fixed-shape runners: the dims they bound
    if inputs is not None and inputs.dims != profile.model.dims:
        effective = dataclasses.replace(effective, model=dataclasses.replace(profile.model, dims=dict(inputs.dims)))
    load = profile.load
    if inner_scenario(load) == "server":
        workers, why = server_workers(load.server_workers, profile.runtime)
        effective = dataclasses.replace(effective, load=dataclasses.replace(load, server_workers=workers))
        notes = getattr(runner, "notes", None)
        if isinstance(notes, dict):
            notes["load"] = {"server_workers": workers, "server_workers_why": why}
    return Opened(runner, effective)
