"""Decisions made from the model's header and the profile before any session is built.

How the model runs (model.kind, or detected from its inputs and outputs), how long a sequence it takes
(model.max_context, else the export's config.json, else the ONNX metadata, else 2048), and whether the
load fits it: prompt + output within the context, decoder flags only for decoders, and an encoder's
sequence axis bound to load.prompt_tokens. Every refusal is one line naming the key and the numbers.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass

from wattfleet.agent.workloads.config import LoadConfig, ModelConfig, RuntimeConfig
from wattfleet.agent.workloads.runners.base import ResolvedModel
from wattfleet.core.errors import UsageError

DEFAULT_MAX_CONTEXT = 2048
DEFAULT_CONTEXT_SOURCE = ("wattfleet's default: no config.json beside the model and no ONNX metadata names "
                          "one; set model.max_context")
_SEQUENCE_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True)
class Kind:
    name: str  # "decoder", "decoder-no-cache" or "fixed"
    why: str  # "model.kind" or what the detection saw

    @property
    def generative(self) -> bool:
        return self.name != "fixed"


def model_kind(model: ModelConfig, resolved: ResolvedModel) -> Kind:
    """model.kind when set; otherwise a graph with past_key_values inputs is a KV-cache decoder, one with
    input_ids and logits [batch, sequence, vocab] but no past (and no token_type_ids, which BERT-style
    encoders with an MLM head have) is a no-cache decoder, and anything else is fixed-shape."""
    if model.kind:
        return Kind(model.kind, "model.kind")
    if any(name.startswith("past_key_values.") for name in resolved.inputs):
        return Kind("decoder", "detected: past_key_values inputs")
    logits = resolved.outputs.get("logits")
    if ("input_ids" in resolved.inputs and logits is not None and len(logits) in (0, 3)
            and "token_type_ids" not in resolved.inputs):
        return Kind("decoder-no-cache", "detected: input_ids -> logits without past_key_values "
                                        "(full recompute per token)")
    return Kind("fixed", "detected: no past_key_values and no input_ids -> logits")


def max_context(model: ModelConfig, resolved: ResolvedModel) -> tuple[int, str]:
    """The longest sequence the model takes, and where that number came from."""
    if model.max_context:
        return model.max_context, "model.max_context"
    if resolved.export.context:
        return resolved.export.context, resolved.export.context_source
    for key in ("max_position_embeddings", "n_positions", "max_context"):
        value = resolved.metadata.get(key, "")
        if value.isdigit() and int(value) > 0:
            return int(value), f"{key} in the ONNX metadata of {resolved.name}"
    return DEFAULT_MAX_CONTEXT, DEFAULT_CONTEXT_SOURCE


def plan_load(kind: Kind, resolved: ResolvedModel, model: ModelConfig, load: LoadConfig | None,
              given: Collection[str], context: tuple[int, str]) -> dict[str, int]:
    """Check `load` against the model and return the symbolic-dimension bindings to run with.

    Only keys in `given` (written by the user) count as asked for: profiles carry defaults for
    prompt_tokens and output_tokens that mean nothing to a fixed-shape model."""
    dims = dict(model.dims)
    if load is None:
        return dims
    limit, source = context
    if kind.generative:
        total = load.prompt_tokens + load.output_tokens
        if total > limit:
            raise UsageError(f"load.prompt_tokens {load.prompt_tokens} + load.output_tokens {load.output_tokens} "
                             f"= {total} exceeds {resolved.name}'s context of {limit} tokens ({source}); lower "
                             "one of them")
        return dims
    if "load.output_tokens" in given:
        raise UsageError(f"load.output_tokens {load.output_tokens} is given, but {resolved.name} runs as a "
                         f"fixed-shape model ({kind.why}) and generates no tokens; remove it, or set "
                         "model.kind = 'decoder-no-cache' if it is a decoder")
    if "load.prompt_tokens" in given:
        _bind_sequence(resolved, dims, load.prompt_tokens, context)
    return dims


def _bind_sequence(resolved: ResolvedModel, dims: dict[str, int], tokens: int, context: tuple[int, str]) -> None:
    """load.prompt_tokens as the sequence axis (axis 1) of an encoder's input_ids and its companions."""
    axes = {name: shape[1] for name in _SEQUENCE_INPUTS if len(shape := resolved.inputs.get(name, ())) >= 2}
    if not axes:
        raise UsageError(f"load.prompt_tokens {tokens} is given, but {resolved.name} is a fixed-shape model "
                         f"without an input_ids sequence axis to bind (inputs: {sorted(resolved.inputs)}); "
                         "remove it and bind symbolic axes with model.dims.<name>")
    limit, source = context
    if source != DEFAULT_CONTEXT_SOURCE and tokens > limit:
        raise UsageError(f"load.prompt_tokens {tokens} exceeds {resolved.name}'s context of {limit} tokens "
                         f"({source}); lower it")
    for name, dim in axes.items():
        if isinstance(dim, int) and dim > 0:
            if dim != tokens:
                raise UsageError(f"load.prompt_tokens {tokens}: {resolved.name}'s {name} has a fixed sequence "
                                 f"length of {dim}; use {dim} or remove the key")
        elif isinstance(dim, str) and dim:
            if dims.get(dim, tokens) != tokens:
                raise UsageError(f"load.prompt_tokens {tokens} and model.dims.{dim} {dims[dim]} disagree on "
                                 f"{resolved.name}'s sequence axis; give one of them")
            dims[dim] = tokens
        else:
            raise UsageError(f"load.prompt_tokens {tokens}: {resolved.name}'s {name} sequence axis has no name "
                             "to bind; export it with a named dynamic axis, or with a fixed length")


def server_workers(requested: int, runtime: RuntimeConfig, cpu_count: int | None = None) -> tuple[int, str]:
    """How many workers the server scenario issues queries from, and why.

    Rule (requested 0 = auto): each in-flight query needs the cores its inference uses, so
    workers = cores // cores per query, at least 1. A query on the CPU provider uses
    runtime.intra_op_threads cores, or every core when that is 0 (ONNX Runtime's default pool spans
    them all); on CUDA/TensorRT a query mostly waits on the device and keeps one core busy feeding it.
    More workers than that only queue inside the runtime, where the wait is invisible to TTFT."""
    cores = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    if requested:
        return requested, "load.server_workers as given"
    if runtime.intra_op_threads:
        per_query, what = runtime.intra_op_threads, f"runtime.intra_op_threads = {runtime.intra_op_threads}"
    elif runtime.provider == "cpu":
        per_query, what = cores, "ONNX Runtime's default pool uses every core"
    else:
        per_query, what = 1, f"{runtime.provider} queries mostly wait on the device"
    workers = max(1, cores // per_query)
    return workers, f"auto: {cores} cores // {per_query} per query ({what}) = {workers}"
