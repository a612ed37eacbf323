"""A GPT-style decoder-only transformer written with onnx.helper, following the optimum I/O convention.

Inputs: `input_ids` [batch, seq] int64, `attention_mask` [batch, past+seq] int64, optional `position_ids`
[batch, seq] int64, and `past_key_values.{i}.key|value` [batch, kv_heads, past, head_dim]. Outputs:
`logits` [batch, seq, vocab] and `present.{i}.key|value` [batch, kv_heads, past+seq, head_dim].
Attention may use fewer KV heads than query heads (grouped-query attention). Weights are seeded.
With `kv_cache=False` the graph has no past/present tensors (as `optimum-cli export onnx --task
text-generation` writes it): a caller feeds the whole sequence every step.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


@dataclass(frozen=True)
class DecoderSpec:
    vocab: int
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    ffn: int
    max_context: int
    dtype: str = "fp32"  # "fp32" or "fp16"
    position_ids: bool = True  # False: positions are derived from the past length inside the graph
    seed: int = 0
    kv_cache: bool = True  # False: no past_key_values inputs and no present outputs

    def __post_init__(self) -> None:
        if self.hidden % self.heads:
            raise ValueError(f"hidden {self.hidden} is not a multiple of heads {self.heads}")
        if self.heads % self.kv_heads:
            raise ValueError(f"heads {self.heads} is not a multiple of kv_heads {self.kv_heads}")
        if self.dtype not in ("fp32", "fp16"):
            raise ValueError(f"dtype {self.dtype!r}: expected 'fp32' or 'fp16'")

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def params(self) -> dict[str, Any]:
        params = {"kind": "decoder", **asdict(self)}
        if self.kv_cache:  # the cache keys of models made before the flag existed stay the same
            del params["kv_cache"]
        return params

    def n_params(self) -> int:
        h, f, hd = self.hidden, self.ffn, self.head_dim
        attn = h * h + h + 2 * (h * self.kv_heads * hd + self.kv_heads * hd) + h * h + h
        block = attn + 2 * h * f + f + h + 4 * h
        return self.vocab * h + self.max_context * h + self.layers * block + 2 * h + h * self.vocab


class _Graph:
    """Collects nodes and initializers with unique names."""

    def __init__(self, np_dtype: type[np.generic], rng: np.random.Generator) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.np_dtype = np_dtype
        self.rng = rng
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def op(self, op_type: str, inputs: list[str], hint: str = "", out: str = "", **attrs: Any) -> str:
        output = out or self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [output], **attrs))
        return output

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def weight(self, name: str, shape: tuple[int, ...], std: float) -> str:
        value = self.rng.standard_normal(shape, dtype=np.float32) * np.float32(std)
        return self.const(name, value.astype(self.np_dtype))

    def fill(self, name: str, shape: tuple[int, ...], value: float) -> str:
        return self.const(name, np.full(shape, value, dtype=self.np_dtype))

    def i64(self, name: str, values: list[int]) -> str:
        return self.const(name, np.array(values, dtype=np.int64))


def _linear(g: _Graph, x: str, prefix: str, n_in: int, n_out: int, std: float) -> str:
    w = g.weight(f"{prefix}.weight", (n_in, n_out), std)
    b = g.weight(f"{prefix}.bias", (n_out,), std * 0.1)
    return g.op("Add", [g.op("MatMul", [x, w]), b], hint=prefix)


def _layernorm(g: _Graph, x: str, prefix: str, hidden: int) -> str:
    gamma = g.fill(f"{prefix}.weight", (hidden,), 1.0)
    beta = g.weight(f"{prefix}.bias", (hidden,), 0.02)
    return g.op("LayerNormalization", [x, gamma, beta], hint=prefix, axis=-1, epsilon=1e-5)


def _heads(g: _Graph, x: str, n_heads: int, head_dim: int) -> str:
    """[B, S, n*hd] -> [B, n, S, hd]."""
    shape = g.i64(g.name("heads_shape"), [0, 0, n_heads, head_dim])
    return g.op("Transpose", [g.op("Reshape", [x, shape])], perm=[0, 2, 1, 3])


def _repeat_kv(g: _Graph, x: str, spec: DecoderSpec) -> str:
    """[B, kv, T, hd] -> [B, heads, T, hd] by repeating each KV head heads/kv times."""
    group = spec.heads // spec.kv_heads
    if group == 1:
        return x
    unsq = g.op("Unsqueeze", [x, g.i64(g.name("ax2"), [2])])
    expanded = g.op("Expand", [unsq, g.i64(g.name("rep"), [1, 1, group, 1, 1])])
    return g.op("Reshape", [expanded, g.i64(g.name("merge"), [0, spec.heads, -1, spec.head_dim])])


def build_decoder(spec: DecoderSpec, path: Path) -> None:
    """Write the decoder described by `spec` to `path` (one file, weights inline)."""
    np_dtype: type[np.generic] = np.float16 if spec.dtype == "fp16" else np.float32
    onnx_dtype = TensorProto.FLOAT16 if spec.dtype == "fp16" else TensorProto.FLOAT
    g = _Graph(np_dtype, np.random.default_rng(spec.seed))
    h, hd, kv = spec.hidden, spec.head_dim, spec.kv_heads

    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64,
                                      ["batch_size", "total_sequence_length" if spec.kv_cache else "sequence_length"]),
    ]
    if spec.position_ids:
        inputs.append(helper.make_tensor_value_info("position_ids", TensorProto.INT64,
                                                    ["batch_size", "sequence_length"]))
    outputs = [helper.make_tensor_value_info("logits", onnx_dtype,
                                             ["batch_size", "sequence_length", spec.vocab])]
    for i in range(spec.layers if spec.kv_cache else 0):
        for kind in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(
                f"past_key_values.{i}.{kind}", onnx_dtype, ["batch_size", kv, "past_sequence_length", hd]))
            outputs.append(helper.make_tensor_value_info(
                f"present.{i}.{kind}", onnx_dtype, ["batch_size", kv, "total_sequence_length", hd]))

    # Lengths: past from the first KV input (0 without a cache), total = past + seq.
    zero, one, two = g.i64("c0", [0]), g.i64("c1", [1]), g.i64("c2", [2])
    if spec.kv_cache:
        past_len = g.op("Slice", [g.op("Shape", ["past_key_values.0.key"]), two, g.i64("c3", [3])])
    else:
        past_len = zero
    seq_len = g.op("Slice", [g.op("Shape", ["input_ids"]), one, two])
    total_len = g.op("Add", [past_len, seq_len])
    scalar = g.i64("scalar_shape", [])
    past_s = g.op("Reshape", [past_len, scalar])
    total_s = g.op("Reshape", [total_len, scalar])
    one_s = g.const("one_s", np.array(1, dtype=np.int64))
    q_pos = g.op("Range", [past_s, total_s, one_s])  # [S] absolute positions of the new tokens

    if spec.position_ids:
        positions = "position_ids"
    else:
        positions = g.op("Unsqueeze", [q_pos, zero])  # [1, S], broadcast over the batch

    # Embeddings.
    wte = g.weight("wte.weight", (spec.vocab, h), 0.5)
    wpe = g.weight("wpe.weight", (spec.max_context, h), 0.5)
    x = g.op("Add", [g.op("Gather", [wte, "input_ids"], axis=0), g.op("Gather", [wpe, positions], axis=0)])

    # Mask bias [B, 1, S, T]: causal (key position <= query position) and attention_mask.
    k_pos = g.op("Range", [g.const("zero_s", np.array(0, dtype=np.int64)), total_s, one_s])
    causal = g.op("LessOrEqual", [g.op("Unsqueeze", [k_pos, zero]), g.op("Unsqueeze", [q_pos, one])])
    padded = g.op("Cast", [g.op("Unsqueeze", ["attention_mask", g.i64("ax12", [1, 2])])], to=TensorProto.BOOL)
    allowed = g.op("And", [g.op("Unsqueeze", [causal, g.i64("ax01", [0, 1])]), padded])
    neg = -1e4 if spec.dtype == "fp16" else -1e9
    bias = g.op("Where", [allowed, g.const("mask_keep", np.array(0, dtype=np_dtype)),
                          g.const("mask_drop", np.array(neg, dtype=np_dtype))], hint="mask_bias")
    scale = g.const("attn_scale", np.array(1.0 / math.sqrt(hd), dtype=np_dtype))
    sqrt_half = g.const("sqrt_half", np.array(1.0 / math.sqrt(2.0), dtype=np_dtype))
    half = g.const("half", np.array(0.5, dtype=np_dtype))
    one_f = g.const("one_f", np.array(1.0, dtype=np_dtype))

    for i in range(spec.layers):
        p = f"h.{i}"
        a = _layernorm(g, x, f"{p}.ln_1", h)
        q = _heads(g, _linear(g, a, f"{p}.attn.q", h, h, 1.0 / math.sqrt(h)), spec.heads, hd)
        k = _heads(g, _linear(g, a, f"{p}.attn.k", h, kv * hd, 1.0 / math.sqrt(h)), kv, hd)
        v = _heads(g, _linear(g, a, f"{p}.attn.v", h, kv * hd, 1.0 / math.sqrt(h)), kv, hd)
        if spec.kv_cache:
            k_all = g.op("Concat", [f"past_key_values.{i}.key", k], out=f"present.{i}.key", axis=2)
            v_all = g.op("Concat", [f"past_key_values.{i}.value", v], out=f"present.{i}.value", axis=2)
        else:
            k_all, v_all = k, v
        k_t = g.op("Transpose", [_repeat_kv(g, k_all, spec)], perm=[0, 1, 3, 2])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k_t]), scale]), bias])
        ctx = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), _repeat_kv(g, v_all, spec)])
        ctx = g.op("Reshape", [g.op("Transpose", [ctx], perm=[0, 2, 1, 3]), g.i64(g.name("flat"), [0, 0, h])])
        x = g.op("Add", [x, _linear(g, ctx, f"{p}.attn.o", h, h, 1.0 / math.sqrt(h))])
        m = _linear(g, _layernorm(g, x, f"{p}.ln_2", h), f"{p}.mlp.fc", h, spec.ffn, 1.0 / math.sqrt(h))
        gelu = g.op("Mul", [g.op("Mul", [m, half]),
                            g.op("Add", [one_f, g.op("Erf", [g.op("Mul", [m, sqrt_half])])])])
        x = g.op("Add", [x, _linear(g, gelu, f"{p}.mlp.proj", spec.ffn, h, 1.0 / math.sqrt(spec.ffn))])

    final = _layernorm(g, x, "ln_f", h)
    head = g.weight("lm_head.weight", (h, spec.vocab), 1.0 / math.sqrt(h))
    g.op("MatMul", [final, head], out="logits")

    graph = helper.make_graph(g.nodes, "wattfleet_decoder", inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="wattfleet")
    model.ir_version = 8
    for key, value in (("max_position_embeddings", spec.max_context), ("vocab_size", spec.vocab),
                       ("wattfleet.params", spec.n_params())):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.save(model, str(path))
