"""Runners: one object per loaded model that scenarios drive. `open_runner` is the only door in.

    onnx.py        open_runner, GenerativeRunner (decoders), FixedRunner (CNNs, encoders) on ONNX Runtime
    decoder.py     the decode loop and the optimum-convention checks
    fixed.py       generated inputs for fixed-shape models
    ort_session.py sessions, providers and TensorRT caches
    trt_native.py  native TensorRT engines
    resolve.py     where a model file comes from (built-in or a model directory)
    base.py        what every runner reports (cold start, environment)
"""

from wattfleet.agent.workloads.runners.base import ColdStart
from wattfleet.agent.workloads.runners.onnx import FixedRunner, GenerativeRunner, open_runner

__all__ = ["ColdStart", "FixedRunner", "GenerativeRunner", "open_runner"]
