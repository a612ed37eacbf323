"""Which execution providers actually work on this host: probed by running a tiny model, not listed.

onnxruntime-gpu lists CUDA and TensorRT even on a machine without a GPU; only a session that keeps the
provider first in `get_providers()` and runs successfully counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper

from wattfleet.agent.workloads.runners.ort_session import ORT_ERRORS, failure_reason, quiet_native_output


@dataclass(frozen=True)
class ProviderProbe:
    name: str  # ONNX Runtime's name, e.g. "CUDAExecutionProvider"
    works: bool
    detail: str  # what ran, or why not


def _probe_model() -> bytes:
    """y = x + 1 on a [2, 4] float tensor: every provider supports it."""
    node = helper.make_node("Add", ["x", "one"], ["y"])
    graph = helper.make_graph(
        [node], "wattfleet_probe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="wattfleet")
    model.ir_version = 8
    return bytes(model.SerializeToString())


def probe_provider(name: str, model: bytes | None = None) -> ProviderProbe:
    model = model if model is not None else _probe_model()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    with quiet_native_output() as captured:
        try:
            session = ort.InferenceSession(model, options, providers=[name])
            used = session.get_providers()[0]
            y = session.run(["y"], {"x": x})[0] if used == name else None
        except ORT_ERRORS as exc:
            return ProviderProbe(name, False, f"session creation failed: {str(exc).strip()[:300]}")
    if used != name:
        return ProviderProbe(name, False, f"ONNX Runtime fell back to {used}: "
                                          f"{failure_reason(captured.getvalue())}")
    if y is None or not np.array_equal(y, x + 1):
        return ProviderProbe(name, False, "ran, but returned a wrong answer for x + 1")
    return ProviderProbe(name, True, f"ran a test model on {name} (onnxruntime {ort.__version__})")


def probe_providers() -> list[ProviderProbe]:
    """One probe per provider this onnxruntime build offers, in ORT's order of preference."""
    model = _probe_model()
    return [probe_provider(name, model) for name in ort.get_available_providers()]


__all__ = ["ProviderProbe", "probe_provider", "probe_providers"]
