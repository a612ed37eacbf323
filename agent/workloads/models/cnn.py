"""The real CNN architectures the `onnx` wheel ships under onnx/backend/test/data/light/.

Those "light" files keep the architecture but replace every weight with a ConstantOfShape of one value,
so every image gives the same answer. We materialise seeded weights (He-normal convolutions and dense
layers, identity batch norms) into a cached copy, so outputs depend on inputs and quality comparisons
mean something; batch norms get the statistics they see on seeded noise (cnn_calibrate.py), and the
batch axis is made symbolic so batched (offline) runs work. The layers themselves are unchanged.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from wattfleet.agent.workloads.models.cache import cached_file
from wattfleet.agent.workloads.models.cnn_calibrate import calibrate_batchnorm
from wattfleet.core.errors import ConfigError

CNN_FILES: dict[str, str] = {
    "cnn-squeezenet": "light_squeezenet.onnx",
    "cnn-resnet50": "light_resnet50.onnx",
    "cnn-shufflenet": "light_shufflenet.onnx",
    "cnn-inception-v1": "light_inception_v1.onnx",
    "cnn-inception-v2": "light_inception_v2.onnx",
    "cnn-densenet121": "light_densenet121.onnx",
    "cnn-alexnet": "light_bvlc_alexnet.onnx",
    "cnn-zfnet512": "light_zfnet512.onnx",
    "cnn-vgg19": "light_vgg19.onnx",
}

_PASS_THROUGH = frozenset({"Reshape", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Flatten"})
# BatchNormalization inputs: 1 scale, 2 bias, 3 mean, 4 variance -> identity.
_BN_FILL = {1: 1.0, 2: 0.0, 3: 0.0, 4: 1.0}


def light_dir() -> Path:
    return Path(onnx.__file__).resolve().parent / "backend" / "test" / "data" / "light"


def cnn_path(name: str, cache_dir: Path | None) -> Path:
    source = light_dir() / CNN_FILES[name]
    if not source.is_file():
        raise ConfigError(f"built-in model {name!r} needs {source}, which the installed onnx "
                          f"{onnx.__version__} wheel does not ship; reinstall onnx (pip install onnx)")
    params = {"kind": "cnn", "source": CNN_FILES[name], "onnx": onnx.__version__, "seed": 0,
              "batch": "dynamic", "bn": "calibrated"}
    return cached_file(name, params, cache_dir, lambda path: materialize(source, path, seed=0))


def _weight(shape: tuple[int, ...], consumer: onnx.NodeProto, index: int, constant: float,
            rng: np.random.Generator) -> np.ndarray:
    if consumer.op_type == "BatchNormalization" and index in _BN_FILL:
        return np.full(shape, _BN_FILL[index], dtype=np.float32)
    if consumer.op_type in ("Conv", "Gemm", "MatMul", "FC") and index == 1 and len(shape) >= 2:
        trans_b = any(a.name == "transB" and a.i for a in consumer.attribute)
        if consumer.op_type == "Conv" or len(shape) > 2:
            fan_in = math.prod(shape[1:])
        else:
            fan_in = shape[1] if trans_b else shape[0]
        return (rng.standard_normal(shape) * math.sqrt(2.0 / max(fan_in, 1))).astype(np.float32)
    if consumer.op_type in ("Conv", "Gemm", "FC") and index == 2:
        return np.zeros(shape, dtype=np.float32)
    return np.full(shape, constant, dtype=np.float32)


def _free_batch_axis(graph: onnx.GraphProto, weights: set[str]) -> None:
    """Make the batch axis symbolic: the wheel's graphs hard-code 1 in their activation Reshapes.

    A Reshape of an activation whose target shape starts with 1 gets 0 instead ("copy the input's
    dimension"); reshapes of weights keep theirs. Graph inputs and outputs get a `batch_size` axis.
    """
    inits = {t.name: t for t in graph.initializer}
    for node in graph.node:
        if node.op_type != "Reshape" or node.input[0] in weights or node.input[1] not in inits:
            continue
        shape = numpy_helper.to_array(inits[node.input[1]])
        if shape.size and shape[0] == 1:
            freed = shape.copy()
            freed[0] = 0
            name = f"{node.input[1]}__batch"
            if name not in inits:
                inits[name] = numpy_helper.from_array(freed, name)
                graph.initializer.append(inits[name])
            node.input[1] = name
    for value in [*graph.input, *graph.output]:
        dims = value.type.tensor_type.shape.dim
        if value.name not in weights and dims and dims[0].dim_value == 1:
            dims[0].dim_param = "batch_size"
    del graph.value_info[:]  # shapes inferred for batch 1 would contradict the free axis


def materialize(source: Path, target: Path, seed: int) -> None:
    """Copy `source`, turning float ConstantOfShape weights into seeded initializers."""
    model = onnx.load(str(source))
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    consumers: dict[str, tuple[onnx.NodeProto, int]] = {}
    for node in graph.node:
        for index, name in enumerate(node.input):
            consumers.setdefault(name, (node, index))
    rng = np.random.default_rng(seed)
    keep: list[onnx.NodeProto] = []
    new_inits: list[onnx.TensorProto] = []
    for node in graph.node:
        value_attr = next((a for a in node.attribute if a.name == "value"), None)
        value = numpy_helper.to_array(value_attr.t) if value_attr is not None else np.zeros(1, np.float32)
        shape_name = node.input[0] if node.input else ""
        if (node.op_type != "ConstantOfShape" or shape_name not in inits
                or value.dtype != np.float32 or node.output[0] not in consumers):
            keep.append(node)
            continue
        shape = tuple(int(d) for d in numpy_helper.to_array(inits[shape_name]))
        consumer, index = consumers[node.output[0]]
        while consumer.op_type in _PASS_THROUGH and consumer.output[0] in consumers:  # reshaped weights
            consumer, index = consumers[consumer.output[0]]
        array = _weight(shape, consumer, index, float(value.reshape(-1)[0]), rng)
        new_inits.append(numpy_helper.from_array(array, node.output[0]))
    used = {name for node in keep for name in node.input}
    outputs = {o.name for o in graph.output}
    kept_inits = [t for t in graph.initializer if t.name in used or t.name in outputs]
    del graph.node[:]
    graph.node.extend(keep)
    del graph.initializer[:]
    graph.initializer.extend(kept_inits + new_inits)
    init_names = {t.name for t in graph.initializer}
    _free_batch_axis(graph, init_names)
    # Old IR versions list initializers as graph inputs too; drop the ones that no longer exist.
    graph_inputs = [i for i in graph.input if i.name in init_names or i.name in used]
    del graph.input[:]
    graph.input.extend(graph_inputs)
    model.ir_version = max(model.ir_version, 4)  # IR 4+: initializers need not be listed as inputs
    calibrate_batchnorm(model, seed)
    onnx.save(model, str(target))
