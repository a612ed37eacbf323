"""From a ModelConfig to a file on disk: a built-in (generated and cached) or a path inside model_dirs."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from pathlib import Path

import onnx

from wattfleet.agent.workloads.config import ModelConfig
from wattfleet.agent.workloads.models import DECODERS, builtin_model_path
from wattfleet.agent.workloads.models.cache import cached_file, file_sha256
from wattfleet.agent.workloads.models.decoder import build_decoder
from wattfleet.agent.workloads.runners.base import ResolvedModel
from wattfleet.agent.workloads.runners.export_config import ExportConfig, read_export_config, weights_precision
from wattfleet.core.errors import ConfigError, UsageError

_sha_cache: dict[tuple[str, int, int], str] = {}
_sha_lock = threading.Lock()


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def find_model_file(relative_or_absolute: str, model_dirs: Sequence[Path], key: str = "model.path") -> Path:
    """The resolved file, which must lie inside one of model_dirs after following symlinks; errors name
    `key`, the profile key the path came from."""
    if not model_dirs:
        raise UsageError(f"{key} {relative_or_absolute!r} needs a model directory, and none is configured; "
                         "start the agent with --model-dir DIR (or pass model_dirs) and put the file there")
    roots = [Path(d).expanduser().resolve() for d in model_dirs]
    wanted = Path(relative_or_absolute).expanduser()
    candidates = [wanted] if wanted.is_absolute() else [root / wanted for root in roots]
    searched = ", ".join(str(r) for r in roots)
    for candidate in candidates:
        resolved = candidate.resolve()
        if not any(_inside(resolved, root) for root in roots):
            raise UsageError(f"{key} {relative_or_absolute!r} resolves to {resolved}, outside the model "
                             f"directories ({searched}); only files inside them may be loaded")
        if resolved.is_file():
            return resolved
    raise UsageError(f"{key}: model file {relative_or_absolute!r} not found; searched {searched}")


def sha256_cached(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _sha_lock:
        if key in _sha_cache:
            return _sha_cache[key]
    digest = file_sha256(path)
    with _sha_lock:
        _sha_cache[key] = digest
    return digest


Dims = dict[str, tuple[int | str | None, ...]]


@dataclasses.dataclass(frozen=True)
class Header:
    """What resolve_model reads from the graph without loading external weight files."""

    n_params: int
    metadata: dict[str, str]
    inputs: Dims
    outputs: Dims
    weights_precision: str
    weights_evidence: str


def _dims(values: Sequence[onnx.ValueInfoProto], skip: set[str]) -> Dims:
    return {value.name: tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                              for d in value.type.tensor_type.shape.dim)
            for value in values if value.name not in skip}


def read_header(path: Path) -> Header:
    """Parameter count, metadata, declared inputs and outputs, and the weights' precision."""
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and friends without a common base
        raise ConfigError(f"{path} is not a readable ONNX model: {exc}") from exc
    metadata = {p.key: p.value for p in proto.metadata_props}
    initializers = {t.name for t in proto.graph.initializer}
    weights = weights_precision(proto.graph)
    if "wattfleet.params" in metadata:
        total = int(metadata["wattfleet.params"])
    else:
        total = 0
        for tensor in proto.graph.initializer:
            count = 1
            for d in tensor.dims:
                count *= int(d)
            total += count
    return Header(total, metadata, _dims(proto.graph.input, initializers), _dims(proto.graph.output, set()),
                  weights.precision, weights.evidence)


def resolve_model(model: ModelConfig, model_dirs: Sequence[Path], cache_dir: Path | None,
                  precision: str) -> ResolvedModel:
    if model.builtin and model.path:
        raise UsageError(f"model sets both builtin {model.builtin!r} and path {model.path!r}; set one")
    if not model.builtin and not model.path:
        raise UsageError("model names neither a builtin nor a path; set model.builtin (e.g. 'decoder-tiny') "
                         "or model.path")
    if model.builtin:
        name = model.builtin
        spec = DECODERS.get(name)
        if spec is not None and precision == "fp16" and spec.dtype == "fp32":
            # ONNX Runtime's CPU and CUDA providers run fp16 only from fp16 weights: generate that variant.
            half = dataclasses.replace(spec, dtype="fp16")
            path = cached_file(f"{name}-fp16", half.params(), cache_dir, lambda p: build_decoder(half, p))
        else:
            path = builtin_model_path(name, cache_dir)
    else:
        path = find_model_file(model.path, model_dirs)
        name = path.name
    header = read_header(path)
    # A built-in lives in wattfleet's own cache: nothing beside it describes it.
    export = ExportConfig() if model.builtin else read_export_config(path)
    return ResolvedModel(path=path, name=name, builtin=bool(model.builtin), sha256=sha256_cached(path),
                         n_params=header.n_params, metadata=header.metadata, inputs=header.inputs,
                         outputs=header.outputs, weights_precision=header.weights_precision,
                         weights_evidence=header.weights_evidence, export=export)
