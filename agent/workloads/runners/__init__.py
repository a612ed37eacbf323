"""Runners: one object per loaded model that scenarios drive. `open_runner` is the only door in;
`for_profile.open_profile` wraps it with the checks a whole profile needs (reference, server workers).

    onnx.py        open_runner, GenerativeRunner (decoders), FixedRunner (CNNs, encoders) on ONNX Runtime
    decoder.py     the decode loops (KV cache, IOBinding, full recompute) and the optimum-convention checks
    plan.py        model.kind, the context length, the load checked against the model, server workers
    export_config.py  config.json / generation_config.json beside a model; the weights' precision
    for_profile.py open_profile: the quality reference checked before the run, the profile as it runs
    fixed.py       generated inputs for fixed-shape models
    ort_session.py sessions, providers and TensorRT caches
    trt_native.py  native TensorRT engines
    resolve.py     where a model file comes from (built-in or a model directory)
    base.py        what every runner reports (cold start, environment)
"""

from wattfleet.agent.workloads.runners.base import ColdStart
from wattfleet.agent.workloads.runners.onnx import FixedRunner, GenerativeRunner, open_runner

__all__ = ["ColdStart", "FixedRunner", "GenerativeRunner", "open_runner"]
