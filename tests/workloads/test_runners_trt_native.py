"""The native TensorRT runner: what can be checked without a GPU (TensorRT absent here)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from wattfleet.agent.workloads.config import ModelConfig, RuntimeConfig
from wattfleet.agent.workloads.models import builtin_model_path
from wattfleet.agent.workloads.runners import open_runner
from wattfleet.agent.workloads.runners.base import ResolvedModel
from wattfleet.agent.workloads.runners.trt_native import engine_path, onnx_input_specs
from wattfleet.core.errors import UsageError


def test_absent_tensorrt_names_the_extra_to_install() -> None:
    assert importlib.util.find_spec("tensorrt") is None, "this test checks the message where TensorRT is absent"
    with pytest.raises(UsageError, match=r"'tensorrt-native' needs NVIDIA's TensorRT.*wattfleet\[tensorrt\]"):
        open_runner(ModelConfig(builtin="encoder-bert-tiny"), RuntimeConfig(provider="tensorrt-native"))


def test_input_specs_come_from_the_onnx_graph(tmp_path: Path) -> None:
    cnn = onnx_input_specs(builtin_model_path("cnn-squeezenet", tmp_path))
    assert [(s.name, s.shape, s.dtype) for s in cnn] == [("data_0", ("batch_size", 3, 224, 224), np.float32)]
    encoder = onnx_input_specs(builtin_model_path("encoder-bert-tiny", tmp_path))
    assert [s.name for s in encoder] == ["input_ids", "attention_mask", "token_type_ids"]
    assert encoder[0].shape == ("batch_size", "sequence_length") and encoder[0].dtype == np.int64


def test_engine_path_is_keyed_on_model_version_gpu_and_precision(tmp_path: Path) -> None:
    model = ResolvedModel(path=tmp_path / "m.onnx", name="m", builtin=False, sha256="c" * 64, n_params=1)
    base = engine_path(tmp_path, model, "10.3.0", "NVIDIA H100", "fp16")
    assert base.name == "model.engine" and base.parent.parent == tmp_path / "tensorrt-native"
    assert base != engine_path(tmp_path, model, "10.4.0", "NVIDIA H100", "fp16")
    assert base != engine_path(tmp_path, model, "10.3.0", "Orin", "fp16")
    assert base != engine_path(tmp_path, model, "10.3.0", "NVIDIA H100", "fp32")
