"""Quality model against model: a dynamically quantised copy compared with its fp32 original, and a
reference that cannot open refused before the measurement starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from wattfleet.agent.workloads.config import LoadConfig, ModelConfig, Profile, QualityConfig, RuntimeConfig
from wattfleet.agent.workloads.driver import run_profile
from wattfleet.agent.workloads.models import builtin_model_path
from wattfleet.agent.workloads.providers import probe_provider
from wattfleet.agent.workloads.quality import compare_with_reference, token_agreement
from wattfleet.agent.workloads.runners import open_runner

CPU = RuntimeConfig(intra_op_threads=1)
LOAD = LoadConfig(prompt_tokens=6, output_tokens=6, warmup_queries=0, min_duration_s=0.05, min_queries=2,
                  target_latency_percentile=0)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """q8.onnx: the built-in decoder-tiny, dynamically quantised (int8 weights)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder = tmp_path_factory.mktemp("quant")
    source = builtin_model_path("decoder-tiny", folder / "cache")
    quantize_dynamic(str(source), str(folder / "q8.onnx"), weight_type=QuantType.QInt8)
    (folder / "fp32.onnx").write_bytes(source.read_bytes())
    return folder


def test_outputs_of_different_lengths_disagree_where_only_one_has_a_token() -> None:
    share, first = token_agreement([[1, 2, 3], [4, 5]], [[1, 2], [4, 5]])
    assert share == 4 / 5 and first == [2, -1]


def test_quantised_copy_against_its_fp32_original(folder: Path) -> None:
    quant = open_runner(ModelConfig(path="q8.onnx"), CPU, model_dirs=[folder])
    original = open_runner(ModelConfig(path="fp32.onnx"), CPU, model_dirs=[folder])
    prompts = original.make_prompts(3, 8, seed=2)
    result = compare_with_reference(quant, original, prompts=prompts, max_new_tokens=[4, 8, 6])
    assert result["reference"] == {"provider": "CPUExecutionProvider", "precision": "fp32", "model": "fp32.onnx"}
    assert 0.9 < result["cosine"] < 1.0 and result["max_abs_diff"] > 0  # int8 rounding, not another model
    assert "over 3 prompts" in result["detail"]


@pytest.mark.parametrize("reference", ["fp32.onnx", "decoder-tiny"])
def test_a_run_compares_with_quality_reference_model(folder: Path, reference: str) -> None:
    profile = Profile(name="q", model=ModelConfig(path="q8.onnx"), runtime=CPU, load=LOAD,
                      quality=QualityConfig(reference_model=reference, min_token_agreement=1.0))
    record = run_profile(profile, model_dirs=[folder], cache_dir=folder / "cache")
    assert record.state == "completed", record.error
    assert record.environment["precision"] == "int8"
    quality = record.quality
    assert quality is not None and quality["reference"]["model"] == reference
    assert quality["reference"]["precision"] == "fp32"
    assert 0.0 < quality["token_agreement"] <= 1.0 and quality["cosine"] < 1.0
    # min_token_agreement comes from the profile: 1.0 flags any changed token.
    assert quality["flagged"] is (quality["token_agreement"] < 1.0)


def test_a_missing_reference_model_is_refused_before_measuring(folder: Path) -> None:
    profile = Profile(name="q", model=ModelConfig(path="q8.onnx"), runtime=CPU, load=LOAD,
                      quality=QualityConfig(reference_model="nope.onnx"))
    record = run_profile(profile, model_dirs=[folder])
    assert record.state == "failed" and record.queries == [] and record.environment == {}
    assert record.error == f"quality.reference_model: model file 'nope.onnx' not found; searched {folder}"


def test_an_unavailable_reference_provider_is_refused_before_measuring(folder: Path) -> None:
    if probe_provider("CUDAExecutionProvider").works:
        pytest.skip("CUDA works on this host, so a CUDA reference is available")
    profile = Profile(name="q", model=ModelConfig(path="q8.onnx"), runtime=CPU, load=LOAD,
                      quality=QualityConfig(reference_provider="cuda"))
    record = run_profile(profile, model_dirs=[folder])
    assert record.state == "failed" and record.queries == [] and "\n" not in record.error
    assert record.error.startswith("quality.reference_provider 'cuda'")
    assert "choose" in record.error


def test_without_a_reference_provider_the_reference_follows_the_runs_fallback(folder: Path) -> None:
    if probe_provider("CUDAExecutionProvider").works:
        pytest.skip("CUDA works on this host: nothing falls back")
    profile = Profile(name="q", model=ModelConfig(path="q8.onnx"), load=LOAD,
                      runtime=RuntimeConfig(provider="cuda", fallback=True, intra_op_threads=1),
                      quality=QualityConfig(reference_model="fp32.onnx"))
    record = run_profile(profile, model_dirs=[folder])
    assert record.state == "completed", record.error
    assert record.environment["fell_back"] is True and record.quality is not None
    assert record.quality["reference"]["provider"] == "CPUExecutionProvider"
