"""Decoders whose greedy output is known by construction, so tests can assert exact success rates.

The next token is a fixed function of the current one: next(t) = (a*t + b) mod vocab, a full-period
affine map (a = 1 mod 4 and b odd for a power-of-two vocab, Hull-Dobell), so every chain reaches the EOS
id within `vocab` steps. The map lives in the weights: the embedding is margin * identity and the LM head
holds a 1 at [t, next(t)], so the logit of next(t) is `margin` plus at most margin/4 from the attention
path, and every other logit at most margin/4. The attention path (one layer, optimum KV-cache I/O, causal
and padding masks, positions) is real work whose output is bounded by construction (tanh values, small
output weights), so greedy decoding follows the map exactly, with or without the cache.
The perturbed copy sends a seeded set of tokens to next(t) + 1 instead: its failures are known too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


@dataclass(frozen=True)
class KnownSpec:
    vocab: int = 512
    a: int = 37
    b: int = 101
    eos: int = 1
    margin: float = 16.0
    heads: int = 2
    head_dim: int = 8
    max_context: int = 1024
    perturb_fraction: float = 0.0  # share of tokens whose next token is next(t) + 1 instead
    perturb_seed: int = 7
    seed: int = 0

    def __post_init__(self) -> None:
        if math.gcd(self.a, self.vocab) != 1:
            raise ValueError(f"a = {self.a} must be coprime to vocab = {self.vocab} for the map to be a bijection")
        if not 0 <= self.eos < self.vocab:
            raise ValueError(f"eos {self.eos} is outside the vocabulary of {self.vocab}")

    def params(self) -> dict[str, Any]:
        return {"kind": "known-decoder", **asdict(self)}

    @property
    def width(self) -> int:
        return self.heads * self.head_dim

    def perturbed_tokens(self) -> frozenset[int]:
        """The input tokens whose next token is wrong in the perturbed copy (EOS never among them)."""
        if self.perturb_fraction <= 0:
            return frozenset()
        rng = np.random.default_rng(self.perturb_seed)
        candidates = [t for t in rng.permutation(self.vocab).tolist() if t != self.eos]
        return frozenset(int(t) for t in candidates[: round(self.perturb_fraction * self.vocab)])

    def next_token(self, t: int) -> int:
        """The correct model's next token after t."""
        return (self.a * t + self.b) % self.vocab

    def table(self) -> list[int]:
        """This model's next token for every token (the perturbed set moved by one)."""
        moved = self.perturbed_tokens()
        return [(self.next_token(t) + (t in moved)) % self.vocab for t in range(self.vocab)]

    def n_params(self) -> int:
        v, d = self.vocab, self.width
        return v * v + v * d + self.max_context * d + 3 * d * d + d * v + v * v


def greedy(spec: KnownSpec, prompt: Sequence[int], max_new_tokens: int, *, stop_at_eos: bool = True) -> list[int]:
    """What greedy decoding of this model outputs for `prompt`: a pure function, for tests to compare with."""
    table = spec.table()
    out: list[int] = []
    t = prompt[-1]
    for _ in range(max_new_tokens):
        t = table[t]
        out.append(t)
        if stop_at_eos and t == spec.eos:
            break
    return out


def steps_to_eos(spec: KnownSpec, token: int) -> int:
    """How many tokens the correct model generates after `token` up to and including EOS."""
    t, n = token, 0
    while True:
        t, n = spec.next_token(t), n + 1
        if t == spec.eos:
            return n
        if n > spec.vocab:  # pragma: no cover - impossible for a full-period map
            raise ValueError("the map never reaches EOS from this token")


def build_known(spec: KnownSpec, path: Path) -> None:
    """Write the model to `path` (fp32, one file) with inputs and outputs in the optimum convention."""
    rng = np.random.default_rng(spec.seed)
    v, d, hd, m = spec.vocab, spec.width, spec.head_dim, spec.margin
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(value, name))
        return name

    def op(op_type: str, inputs: list[str], out: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def f32(x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float32)

    lm = np.zeros((v, v), np.float32)
    lm[np.arange(v), spec.table()] = 1.0
    const("wte.weight", f32(np.eye(v) * m))
    const("attn.in.weight", f32(rng.standard_normal((v, d)) / m))
    const("wpe.weight", f32(rng.standard_normal((spec.max_context, d)) * 0.5))
    for name in ("q", "k", "v"):
        const(f"attn.{name}.weight", f32(rng.standard_normal((d, d)) / math.sqrt(d)))
    const("attn.o.weight", f32(rng.uniform(-1.0, 1.0, (d, v)) * m / (8 * d)))  # |attention| <= margin/8
    const("lm_head.weight", lm)
    for name, values in (("c0", [0]), ("c1", [1]), ("c2", [2]), ("c3", [3]), ("ax01", [0, 1]),
                         ("ax12", [1, 2]), ("heads_shape", [0, 0, spec.heads, hd]), ("flat", [0, 0, d])):
        const(name, np.array(values, np.int64))
    const("scalar", np.array([], np.int64))
    const("one_s", np.array(1, np.int64))
    const("zero_s", np.array(0, np.int64))
    const("keep", np.array(0.0, np.float32))
    const("drop", np.array(-1e9, np.float32))
    const("scale", np.array(1.0 / math.sqrt(hd), np.float32))

    # Positions of the new tokens: past .. past + seq - 1 (the runner feeds the same as position_ids).
    op("Slice", [op("Shape", ["past_key_values.0.key"], "past_shape"), "c2", "c3"], "past_len")
    op("Slice", [op("Shape", ["input_ids"], "ids_shape"), "c1", "c2"], "seq_len")
    op("Reshape", [op("Add", ["past_len", "seq_len"], "total_len"), "scalar"], "total_s")
    op("Range", [op("Reshape", ["past_len", "scalar"], "past_s"), "total_s", "one_s"], "q_pos")
    op("Range", ["zero_s", "total_s", "one_s"], "k_pos")

    x = op("Gather", ["wte.weight", "input_ids"], "x", axis=0)  # [B, S, V] = margin * one-hot
    a = op("Add", [op("MatMul", [x, "attn.in.weight"], "a_tok"),
                   op("Gather", ["wpe.weight", "position_ids"], "a_pos", axis=0)], "a")

    def heads(src: str, name: str) -> str:
        return op("Transpose", [op("Reshape", [src, "heads_shape"], f"{name}_split")], f"{name}_heads",
                  perm=[0, 2, 1, 3])

    q = heads(op("MatMul", [a, "attn.q.weight"], "q"), "q")
    k = heads(op("MatMul", [a, "attn.k.weight"], "k"), "k")
    val = heads(op("Tanh", [op("MatMul", [a, "attn.v.weight"], "v_lin")], "v"), "v")
    k_all = op("Concat", ["past_key_values.0.key", k], "present.0.key", axis=2)
    v_all = op("Concat", ["past_key_values.0.value", val], "present.0.value", axis=2)
    causal = op("LessOrEqual", [op("Unsqueeze", ["k_pos", "c0"], "k_row"), op("Unsqueeze", ["q_pos", "c1"], "q_col")],
                "causal")
    padded = op("Cast", [op("Unsqueeze", ["attention_mask", "ax12"], "mask4")], "mask_bool", to=TensorProto.BOOL)
    allowed = op("And", [op("Unsqueeze", [causal, "ax01"], "causal4"), padded], "allowed")
    bias = op("Where", [allowed, "keep", "drop"], "mask_bias")
    scores = op("Add", [op("Mul", [op("MatMul", [q, op("Transpose", [k_all], "k_t", perm=[0, 1, 3, 2])], "qk"),
                                   "scale"], "qk_scaled"), bias], "scores")
    ctx = op("MatMul", [op("Softmax", [scores], "probs", axis=-1), v_all], "ctx")
    ctx = op("Reshape", [op("Transpose", [ctx], "ctx_t", perm=[0, 2, 1, 3]), "flat"], "ctx_flat")
    residual = op("Add", [x, op("MatMul", [ctx, "attn.o.weight"], "attn_out")], "residual")
    op("MatMul", [residual, "lm_head.weight"], "logits")

    kv_shape: list[str | int | None] = ["batch_size", spec.heads, "past_sequence_length", hd]
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
              helper.make_tensor_value_info("attention_mask", TensorProto.INT64,
                                            ["batch_size", "total_sequence_length"]),
              helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
              helper.make_tensor_value_info("past_key_values.0.key", TensorProto.FLOAT, kv_shape),
              helper.make_tensor_value_info("past_key_values.0.value", TensorProto.FLOAT, kv_shape)]
    present_shape: list[str | int | None] = ["batch_size", spec.heads, "total_sequence_length", hd]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", "sequence_length", v]),
               helper.make_tensor_value_info("present.0.key", TensorProto.FLOAT, present_shape),
               helper.make_tensor_value_info("present.0.value", TensorProto.FLOAT, present_shape)]
    graph = helper.make_graph(nodes, "wattfleet_known_decoder", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="wattfleet")
    model.ir_version = 8
    meta = {"max_position_embeddings": spec.max_context, "vocab_size": v, "eos_token_id": spec.eos,
            "wattfleet.params": spec.n_params(),
            "wattfleet.known_map": f"next(t) = ({spec.a}*t + {spec.b}) mod {v}; "
                                   f"{len(spec.perturbed_tokens())} tokens moved to next(t) + 1"}
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.save(model, str(path))
