"""Batch-norm statistics for CNNs with generated weights, measured on seeded noise.

With random convolution weights and identity batch norms, activations grow layer after layer until the
softmax is one-hot and every image gets the same answer. Setting each BatchNormalization's mean and
variance to what it sees (as training would have) keeps activations near unit scale. BNs are measured in
waves (a BN once every BN upstream of it is set) on one session that takes the statistics as inputs, so
nothing is rebuilt; still, deep nets take one forward pass per BN level (seconds; cached on disk).
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def _upstream_bns(graph: onnx.GraphProto) -> dict[str, frozenset[str]]:
    """For each BN (by its output name), the BNs its input depends on."""
    deps: dict[str, frozenset[str]] = {}
    result: dict[str, frozenset[str]] = {}
    for node in graph.node:
        upstream: frozenset[str] = frozenset().union(*(deps.get(name, frozenset()) for name in node.input))
        if node.op_type == "BatchNormalization":
            result[node.output[0]] = upstream
            upstream = upstream | {node.output[0]}
        for name in node.output:
            deps[name] = upstream
    return result


def calibrate_batchnorm(model: onnx.ModelProto, seed: int, batch: int = 1) -> None:
    """Set every BatchNormalization's mean and variance (inputs 3 and 4) in place from seeded inputs."""
    graph = model.graph
    bns = [n for n in graph.node if n.op_type == "BatchNormalization"]
    if not bns:
        return
    inits = {t.name: t for t in graph.initializer}
    stats: dict[str, np.ndarray] = {}
    for bn in bns:
        for name in bn.input[3:5]:
            stats[name] = numpy_helper.to_array(inits[name]).astype(np.float32)
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    known = {i.name for i in probe.graph.input}
    for name, value in stats.items():  # statistics become inputs so one session serves every wave
        if name not in known:
            probe.graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value.shape)))
    outputs = {o.name for o in probe.graph.output}
    for bn in bns:
        if bn.input[0] not in outputs:
            probe.graph.output.append(helper.make_tensor_value_info(bn.input[0], TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    data = {}
    rng = np.random.default_rng(seed)
    initializer_names = set(inits)
    for node in session.get_inputs():
        if node.name in stats or node.name in initializer_names:
            continue
        shape = [d if isinstance(d, int) else batch for d in node.shape]
        data[node.name] = rng.standard_normal(shape).astype(np.float32)
    upstream = _upstream_bns(graph)
    fixed: set[str] = set()
    pending = list(bns)
    while pending:  # one wave per BN depth: those whose upstream BNs are all measured already
        wave = [bn for bn in pending if upstream[bn.output[0]] <= fixed]
        values = session.run([bn.input[0] for bn in wave], {**data, **stats})
        for bn, x in zip(wave, values, strict=True):
            axes = tuple(i for i in range(x.ndim) if i != 1)
            x64 = x.astype(np.float64)
            stats[bn.input[3]] = x64.mean(axis=axes).astype(np.float32)
            stats[bn.input[4]] = (x64.var(axis=axes) + 1e-5).astype(np.float32)
            fixed.add(bn.output[0])
        pending = [bn for bn in pending if bn.output[0] not in fixed]
    for name, value in stats.items():
        inits[name].CopyFrom(numpy_helper.from_array(value, name))
