"""A small BERT-like encoder written with onnx.helper (post-layernorm blocks, bidirectional attention).

Inputs `input_ids`, `attention_mask`, `token_type_ids` [batch, sequence] int64; output
`last_hidden_state` [batch, sequence, hidden]. Weights are seeded.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from wattfleet.agent.workloads.models.decoder import OPSET, _Graph, _heads, _layernorm, _linear


@dataclass(frozen=True)
class EncoderSpec:
    vocab: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    max_context: int
    type_vocab: int = 2
    seed: int = 0

    def params(self) -> dict[str, Any]:
        return {"kind": "encoder", **asdict(self)}


def build_encoder(spec: EncoderSpec, path: Path) -> None:
    g = _Graph(np.float32, np.random.default_rng(spec.seed))
    h, hd = spec.hidden, spec.hidden // spec.heads
    dims = ["batch_size", "sequence_length"]
    inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, dims)
              for name in ("input_ids", "attention_mask", "token_type_ids")]
    outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [*dims, h])]

    seq = g.op("Gather", [g.op("Shape", ["input_ids"]), g.const("idx1", np.array(1, dtype=np.int64))])
    positions = g.op("Range", [g.const("zero_s", np.array(0, dtype=np.int64)), seq,
                               g.const("one_s", np.array(1, dtype=np.int64))])
    emb = g.op("Add", [
        g.op("Gather", [g.weight("word_embeddings", (spec.vocab, h), 0.5), "input_ids"], axis=0),
        g.op("Gather", [g.weight("position_embeddings", (spec.max_context, h), 0.5), positions], axis=0),
    ])
    emb = g.op("Add", [emb, g.op("Gather", [g.weight("token_type_embeddings", (spec.type_vocab, h), 0.5),
                                             "token_type_ids"], axis=0)])
    x = _layernorm(g, emb, "embeddings.ln", h)

    # Padding bias [B, 1, 1, S]: 0 where attended, -1e9 where masked.
    mask = g.op("Cast", [g.op("Unsqueeze", ["attention_mask", g.i64("ax12", [1, 2])])], to=TensorProto.BOOL)
    bias = g.op("Where", [mask, g.const("keep", np.array(0, dtype=np.float32)),
                          g.const("drop", np.array(-1e9, dtype=np.float32))])
    scale = g.const("scale", np.array(1.0 / math.sqrt(hd), dtype=np.float32))
    sqrt_half = g.const("sqrt_half", np.array(1.0 / math.sqrt(2.0), dtype=np.float32))
    half = g.const("half", np.array(0.5, dtype=np.float32))
    one_f = g.const("one_f", np.array(1.0, dtype=np.float32))
    std = 1.0 / math.sqrt(h)
    for i in range(spec.layers):
        p = f"layer.{i}"
        q = _heads(g, _linear(g, x, f"{p}.q", h, h, std), spec.heads, hd)
        k = _heads(g, _linear(g, x, f"{p}.k", h, h, std), spec.heads, hd)
        v = _heads(g, _linear(g, x, f"{p}.v", h, h, std), spec.heads, hd)
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 1, 3, 2])]),
                                           scale]), bias])
        ctx = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
        ctx = g.op("Reshape", [g.op("Transpose", [ctx], perm=[0, 2, 1, 3]), g.i64(g.name("flat"), [0, 0, h])])
        x = _layernorm(g, g.op("Add", [x, _linear(g, ctx, f"{p}.o", h, h, std)]), f"{p}.ln_1", h)
        m = _linear(g, x, f"{p}.fc", h, spec.ffn, std)
        gelu = g.op("Mul", [g.op("Mul", [m, half]),
                            g.op("Add", [one_f, g.op("Erf", [g.op("Mul", [m, sqrt_half])])])])
        out = "last_hidden_state" if i == spec.layers - 1 else ""
        x = _layernorm(g, g.op("Add", [x, _linear(g, gelu, f"{p}.proj", spec.ffn, h, 1 / math.sqrt(spec.ffn))]),
                       f"{p}.ln_2", h)
        if out:
            g.op("Identity", [x], out=out)

    graph = helper.make_graph(g.nodes, "wattfleet_encoder", inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="wattfleet")
    model.ir_version = 8
    onnx.save(model, str(path))
