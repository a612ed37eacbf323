"""What an export says about itself beside the ONNX file, and what its weights are.

`config.json` and `generation_config.json` (as transformers and optimum write them next to model.onnx)
give the context length and the end-of-sequence token; the graph's operators and initializers give the
precision of the weights (a dynamically quantised model has int8 weights and fp32 inputs and outputs).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx

from wattfleet.core.errors import ConfigError

# Keys that hold the longest sequence a model's position embeddings (or rotary tables) were built for,
# under the names the common architectures use: GPT-2 (n_positions, n_ctx), Llama/BERT/Mistral
# (max_position_embeddings), MPT (max_seq_len), Bloom/Falcon-style (seq_length), T5-style
# (max_sequence_length). Where several are present the smallest wins.
CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "n_ctx", "max_sequence_length", "seq_length",
                "max_seq_len")
# Operators that only appear in quantised graphs (ONNX and com.microsoft domains).
QUANT_OPS = frozenset({
    "MatMulInteger", "ConvInteger", "DynamicQuantizeLinear", "QLinearMatMul", "QLinearConv", "QLinearAdd",
    "QLinearMul", "QGemm", "QAttention", "DynamicQuantizeMatMul", "DynamicQuantizeLSTM",
    "MatMulIntegerToFloat", "QuantizeLinear", "DequantizeLinear", "MatMulNBits", "GatherBlockQuantized",
})
_INT8 = {onnx.TensorProto.INT8, onnx.TensorProto.UINT8}
_INT4 = {getattr(onnx.TensorProto, n) for n in ("INT4", "UINT4") if hasattr(onnx.TensorProto, n)}
_FLOATS = {onnx.TensorProto.FLOAT: "fp32", onnx.TensorProto.FLOAT16: "fp16", onnx.TensorProto.BFLOAT16: "bf16",
           onnx.TensorProto.DOUBLE: "fp64"}


@dataclass(frozen=True)
class ExportConfig:
    """Limits and tokens from the files beside a model; empty where there are none."""

    context: int = 0
    context_source: str = ""  # e.g. "n_positions in /models/gpt2/config.json"
    eos_token_ids: tuple[int, ...] = ()
    eos_source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"context": self.context, "context_source": self.context_source,
                "eos_token_ids": list(self.eos_token_ids), "eos_source": self.eos_source}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror}); it is read beside the model for its "
                          "context length and end-of-sequence token") from exc
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc}); fix or remove it (it is read beside the model "
                          "for its context length and end-of-sequence token)") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _eos(value: Any, where: str) -> tuple[int, ...]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        raise ConfigError(f"{where}: eos_token_id {value!r} is not a token id or a list of token ids")
    return tuple(values)


def read_export_config(model_path: Path) -> ExportConfig:
    """config.json / generation_config.json in the model's folder (generation_config's EOS wins, as in
    transformers' generate())."""
    config_path = model_path.parent / "config.json"
    generation_path = model_path.parent / "generation_config.json"
    config = _read_json(config_path) if config_path.is_file() else {}
    generation = _read_json(generation_path) if generation_path.is_file() else {}
    context, context_source = 0, ""
    for table, prefix in ((config, ""), (config.get("text_config"), "text_config.")):
        if not isinstance(table, dict):
            continue
        for key in CONTEXT_KEYS:
            value = table.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0 and (
                    not context or value < context):
                context, context_source = value, f"{prefix}{key} in {config_path}"
    eos: tuple[int, ...] = ()
    eos_source = ""
    for table, path in ((generation, generation_path), (config, config_path)):
        if table.get("eos_token_id") is not None:
            eos, eos_source = _eos(table["eos_token_id"], str(path)), f"eos_token_id in {path}"
            break
    return ExportConfig(context, context_source, eos, eos_source)


@dataclass(frozen=True)
class WeightsPrecision:
    precision: str  # "fp32", "fp16", "bf16", "int8", "int4"
    evidence: str  # what in the graph says so


def weights_precision(graph: onnx.GraphProto) -> WeightsPrecision:
    """The precision of the weights: quantised (int8, or int4 for 4-bit MatMulNBits/int4 tensors) when
    the graph has quantisation operators or most weight elements are 8-bit integers; otherwise the float
    type holding most weight elements. Constants under 16 elements (shapes, scales) do not count."""
    ops = Counter(node.op_type for node in graph.node if node.op_type in QUANT_OPS)
    elements: Counter[str] = Counter()
    for tensor in graph.initializer:
        count = 1
        for d in tensor.dims:
            count *= int(d)
        if count < 16:
            continue
        if tensor.data_type in _INT8:
            elements["int8"] += count
        elif tensor.data_type in _INT4:
            elements["int4"] += count
        elif tensor.data_type in _FLOATS:
            elements[_FLOATS[tensor.data_type]] += count
    total = sum(elements.values())
    share = {k: v / total for k, v in elements.items()} if total else {}
    four_bit = any(node.op_type == "MatMulNBits" and any(a.name == "bits" and a.i == 4 for a in node.attribute)
                   for node in graph.node) or share.get("int4", 0.0) >= 0.5
    quantised = bool(ops) or share.get("int8", 0.0) >= 0.5 or four_bit
    parts = [f"{op} x{n}" for op, n in sorted(ops.items())]
    parts += [f"{share[k]:.0%} of weight elements in {k} initializers" for k in sorted(share) if share[k] >= 0.01]
    evidence = "; ".join(parts) or "no weights"
    if quantised:
        return WeightsPrecision("int4" if four_bit else "int8", evidence)
    floats = {k: v for k, v in elements.items() if k in _FLOATS.values()}
    return WeightsPrecision(max(floats, key=lambda k: floats[k]) if floats else "fp32", evidence)
