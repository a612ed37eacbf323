"""Quality beside speed: agreement with a reference configuration, and flags when answers change."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from wattfleet.agent.workloads.config import ModelConfig, RuntimeConfig
from wattfleet.agent.workloads.models import DECODERS
from wattfleet.agent.workloads.models.decoder import build_decoder
from wattfleet.agent.workloads.quality import compare_with_reference, tensor_agreement, token_agreement
from wattfleet.agent.workloads.runners import open_runner
from wattfleet.core.errors import UsageError


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def test_token_and_tensor_agreement_by_hand() -> None:
    share, first = token_agreement([[1, 2, 3, 4], [5, 6, 7, 8]], [[1, 2, 0, 4], [5, 6, 7, 8]])
    assert share == 7 / 8 and first == [2, -1]
    figures = tensor_agreement([np.array([1.0, 0.0])], [np.array([0.0, 1.0])])
    assert figures == {"max_abs_diff": 1.0, "mean_abs_diff": 1.0, "cosine": 0.0}
    with pytest.raises(UsageError, match="differ in shape"):
        tensor_agreement([np.zeros(2)], [np.zeros(3)])


def test_same_configuration_agrees_fully(cache: Path) -> None:
    a = open_runner(ModelConfig(builtin="decoder-tiny"), RuntimeConfig(), cache_dir=cache)
    b = open_runner(ModelConfig(builtin="decoder-tiny"), RuntimeConfig(), cache_dir=cache)
    result = compare_with_reference(a, b, n_samples=3, max_new_tokens=12)
    assert result["token_agreement"] == 1.0 and result["max_abs_diff"] == 0.0
    assert result["cosine"] == pytest.approx(1.0) and result["flagged"] is False
    assert result["reference"] == {"provider": "CPUExecutionProvider", "precision": "fp32", "model": "decoder-tiny"}


def test_fp16_against_fp32_reference_is_close(cache: Path) -> None:
    ref = open_runner(ModelConfig(builtin="decoder-tiny"), RuntimeConfig(), cache_dir=cache)
    half = open_runner(ModelConfig(builtin="decoder-tiny"), RuntimeConfig(precision="fp16"), cache_dir=cache)
    result = compare_with_reference(half, ref, n_samples=4, max_new_tokens=16)
    assert 0 < result["max_abs_diff"] < 0.05  # fp16 rounding, not a different model
    assert result["cosine"] > 0.999 and result["token_agreement"] >= 0.9
    assert result["flagged"] is False


def test_a_configuration_that_changes_answers_is_flagged(cache: Path, tmp_path: Path) -> None:
    build_decoder(dataclasses.replace(DECODERS["decoder-tiny"], seed=1), tmp_path / "other.onnx")
    other = open_runner(ModelConfig(path="other.onnx"), RuntimeConfig(), model_dirs=[tmp_path])
    ref = open_runner(ModelConfig(builtin="decoder-tiny"), RuntimeConfig(), cache_dir=cache)
    result = compare_with_reference(other, ref, n_samples=2, max_new_tokens=8)
    assert result["token_agreement"] < 0.5 and result["flagged"] is True
    assert "FLAGGED" in result["detail"]


def test_fixed_models_compare_outputs_on_identical_inputs(cache: Path) -> None:
    a = open_runner(ModelConfig(builtin="cnn-squeezenet"), RuntimeConfig(), cache_dir=cache)
    b = open_runner(ModelConfig(builtin="cnn-squeezenet"), RuntimeConfig(intra_op_threads=1), cache_dir=cache)
    result = compare_with_reference(a, b)
    assert result["token_agreement"] is None
    assert result["cosine"] == pytest.approx(1.0, abs=1e-6) and result["max_abs_diff"] < 1e-5
    assert result["flagged"] is False
    strict = compare_with_reference(a, b, min_cosine=1.0 + 1e-9)
    assert strict["flagged"] is True


def test_kinds_must_match(cache: Path) -> None:
    a = open_runner(ModelConfig(builtin="cnn-squeezenet"), RuntimeConfig(), cache_dir=cache)
    b = open_runner(ModelConfig(builtin="decoder-tiny"), RuntimeConfig(), cache_dir=cache)
    with pytest.raises(UsageError, match="cannot compare a fixed runner with a generative reference"):
        compare_with_reference(a, b)
