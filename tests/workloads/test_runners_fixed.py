"""The fixed-shape runner: inputs generated from declared names, shapes and dtypes; symbolic dims bound."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from wattfleet.agent.workloads.config import ModelConfig, RuntimeConfig
from wattfleet.agent.workloads.runners import FixedRunner, open_runner
from wattfleet.core.errors import UsageError


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def test_cnn_from_the_onnx_wheel(cache: Path) -> None:
    runner = open_runner(ModelConfig(builtin="cnn-squeezenet"), RuntimeConfig(), cache_dir=cache)
    assert isinstance(runner, FixedRunner) and runner.kind == "fixed"
    assert runner.provider_used == "CPUExecutionProvider"
    assert runner.cold_start.first_inference_s > 0
    batch = runner.input_batch(1)
    assert list(batch) == ["data_0"] and batch["data_0"].shape == (1, 3, 224, 224)
    assert batch["data_0"].dtype == np.float32
    assert runner.input_batch(1) is batch  # generated once, reused
    out = runner.infer(1)
    assert out[0].shape == (1, 1000, 1, 1)
    np.testing.assert_allclose(out[0].sum(), 1.0, rtol=1e-4)  # the network ends in a softmax
    # The wheel's graph hard-codes batch 1; ours has a free batch axis and batches give per-image answers.
    three = runner.input_batch(3)["data_0"]
    batched = runner.infer(3)[0]
    assert batched.shape == (3, 1000, 1, 1)
    np.testing.assert_allclose(batched[1:2], runner.run_feeds({"data_0": three[1:2]})[0], atol=1e-6)


def test_fixed_batch_axis_is_enforced(tmp_path: Path) -> None:
    node = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph([node], "fixed", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "fixed.onnx"))
    runner = open_runner(ModelConfig(path="fixed.onnx"), RuntimeConfig(), model_dirs=[tmp_path])
    assert runner.infer(1)[0].shape == (1, 4)
    with pytest.raises(UsageError, match=r"fixed batch dimension of 1, so batch_size 2 cannot run"):
        runner.infer(2)


def test_encoder_binds_symbolic_dims_from_the_profile(cache: Path) -> None:
    with pytest.raises(UsageError, match=r"'sequence_length'.*model\.dims\.sequence_length"):
        open_runner(ModelConfig(builtin="encoder-bert-tiny"), RuntimeConfig(), cache_dir=cache)
    runner = open_runner(ModelConfig(builtin="encoder-bert-tiny", dims={"sequence_length": 24, "vocab_size": 1024}),
                         RuntimeConfig(), cache_dir=cache)
    batch = runner.input_batch(3)
    assert {k: v.shape for k, v in batch.items()} == {k: (3, 24) for k in
                                                      ("input_ids", "attention_mask", "token_type_ids")}
    assert (batch["attention_mask"] == 1).all() and (batch["token_type_ids"] == 0).all()
    assert batch["input_ids"].max() < 1024 and len(np.unique(batch["input_ids"])) > 10
    assert runner.infer(3)[0].shape == (3, 24, 128)
    assert runner.environment()["kind"] == "fixed"


def test_generated_inputs_are_seeded_across_runners(cache: Path) -> None:
    config = ModelConfig(builtin="encoder-bert-tiny", dims={"sequence_length": 8})
    a = open_runner(config, RuntimeConfig(), cache_dir=cache).input_batch(2)
    b = open_runner(config, RuntimeConfig(), cache_dir=cache).input_batch(2)
    np.testing.assert_array_equal(a["input_ids"], b["input_ids"])


def test_fp16_on_cpu_needs_an_fp16_model(cache: Path) -> None:
    with pytest.raises(UsageError, match=r"precision fp16 on CPUExecutionProvider.*fp32 weights"):
        open_runner(ModelConfig(builtin="cnn-squeezenet"), RuntimeConfig(precision="fp16"), cache_dir=cache)


def test_bad_batch_size(cache: Path) -> None:
    runner = open_runner(ModelConfig(builtin="cnn-squeezenet"), RuntimeConfig(), cache_dir=cache)
    with pytest.raises(UsageError, match="at least 1"):
        runner.infer(0)


def test_iobinding_path_equals_plain_run(cache: Path) -> None:
    runner = open_runner(ModelConfig(builtin="encoder-bert-tiny", dims={"sequence_length": 16}), RuntimeConfig(),
                         cache_dir=cache)
    plain = runner.infer(2)
    runner.binding_device = "cpu"  # the device path (inputs uploaded once, outputs bound), on the CPU
    bound = runner.infer(2)
    np.testing.assert_array_equal(bound[0], plain[0])
    assert runner.infer(2)[0].shape == (2, 16, 128)
