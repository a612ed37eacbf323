"""Execution providers: probed for real, options built as ORT expects, refusal and fallback on this host."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort
import pytest

from wattfleet.agent.workloads.config import ModelConfig, RuntimeConfig
from wattfleet.agent.workloads.providers import probe_providers
from wattfleet.agent.workloads.runners import open_runner
from wattfleet.agent.workloads.runners.ort_session import (
    failure_reason,
    provider_chain,
    tensorrt_options,
    trt_cache_key,
    trt_profile_shapes,
)
from wattfleet.core.errors import UsageError

GPU_PROVIDERS = {"CUDAExecutionProvider", "TensorrtExecutionProvider"}


def _gpu_works() -> bool:
    return any(p.works for p in probe_providers() if p.name in GPU_PROVIDERS)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def test_probe_reports_each_available_provider_quietly(capfd: pytest.CaptureFixture[str]) -> None:
    probes = probe_providers()
    captured = capfd.readouterr()
    assert [p.name for p in probes] == ort.get_available_providers()
    cpu = next(p for p in probes if p.name == "CPUExecutionProvider")
    assert cpu.works and "CPUExecutionProvider" in cpu.detail
    for probe in probes:
        if probe.name in GPU_PROVIDERS and not probe.works:
            assert "fell back" in probe.detail or "failed" in probe.detail
    assert captured.err == "" and captured.out == ""


def test_trt_cache_key_changes_with_every_input() -> None:
    base = ("a" * 64, "1.31.1", "10.3.0", "NVIDIA H100", "fp16")
    key = trt_cache_key(*base)
    assert key == trt_cache_key(*base)
    for index, other in enumerate(("b" * 64, "1.32.0", "10.4.0", "Jetson Orin", "fp32")):
        changed = list(base)
        changed[index] = other
        assert trt_cache_key(*changed) != key, f"component {index} does not reach the key"
    assert key.startswith("aaaaaaaaaaaa-ort1.31.1-trt10.3.0-")


def test_tensorrt_options_carry_caches_and_precision(tmp_path: Path) -> None:
    fp16 = tensorrt_options(tmp_path, "k1", "fp16", 1)
    assert fp16["device_id"] == "1"
    assert fp16["trt_engine_cache_enable"] == fp16["trt_timing_cache_enable"] == "True"
    assert fp16["trt_engine_cache_path"] == str(tmp_path / "tensorrt" / "k1")
    assert fp16["trt_timing_cache_path"] == str(tmp_path / "tensorrt" / "k1")
    assert (fp16["trt_fp16_enable"], fp16["trt_int8_enable"]) == ("True", "False")
    int8 = tensorrt_options(tmp_path, "k1", "int8", 0)
    assert (int8["trt_fp16_enable"], int8["trt_int8_enable"]) == ("True", "True")
    fp32 = tensorrt_options(tmp_path, "k1", "fp32", 0)
    assert (fp32["trt_fp16_enable"], fp32["trt_int8_enable"]) == ("False", "False")


def test_provider_chain_orders_trt_then_cuda_then_cpu(tmp_path: Path) -> None:
    chain = provider_chain(RuntimeConfig(provider="tensorrt", device_id=2), cache_root=tmp_path, trt_key="k")
    assert [n for n, _ in chain] == ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert chain[1][1] == {"device_id": "2"}
    assert [n for n, _ in provider_chain(RuntimeConfig(provider="cuda"), cache_root=tmp_path, trt_key="k")] == [
        "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert provider_chain(RuntimeConfig(), cache_root=tmp_path, trt_key="k") == [("CPUExecutionProvider", {})]


def test_failure_reason_strips_colours_and_keeps_the_cause() -> None:
    text = ("\x1b[1;31m2026-01-01 [E:onnxruntime:Default, provider_bridge_ort.cc:1] ... Failed to load library "
            "/x/libonnxruntime_providers_cuda.so with error: libcublasLt.so.13: cannot open shared object file"
            "\x1b[m\n")
    assert failure_reason(text) == "libonnxruntime_providers_cuda.so: libcublasLt.so.13: cannot open shared object file"
    assert "did not say why" in failure_reason("")


@pytest.mark.parametrize("provider", ["cuda", "tensorrt"])
def test_unavailable_gpu_provider_refuses_or_falls_back(provider: str, cache: Path, tmp_path: Path,
                                                        capfd: pytest.CaptureFixture[str]) -> None:
    if _gpu_works():  # on a GPU host the provider must really run
        runner = open_runner(ModelConfig(builtin="decoder-tiny"),
                             RuntimeConfig(provider=provider, cache_dir=str(tmp_path)), cache_dir=cache)
        assert runner.provider_used == {"cuda": "CUDAExecutionProvider",
                                        "tensorrt": "TensorrtExecutionProvider"}[provider]
        return
    with pytest.raises(UsageError, match=rf"provider '{provider}' .* does not work on this host.*fallback = true"):
        open_runner(ModelConfig(builtin="decoder-tiny"), RuntimeConfig(provider=provider, cache_dir=str(tmp_path)),
                    cache_dir=cache)
    runner = open_runner(ModelConfig(builtin="decoder-tiny"),
                         RuntimeConfig(provider=provider, fallback=True, cache_dir=str(tmp_path)), cache_dir=cache)
    assert runner.provider_used == "CPUExecutionProvider"
    env = runner.environment()
    assert env["fell_back"] is True and env["fallback_reason"]
    assert env["provider_requested"] in GPU_PROVIDERS
    assert env["io_binding"] is False
    assert len(runner.generate(runner.make_prompts(1, 4, 0), 3)[0]) == 3
    assert capfd.readouterr().err == ""  # ORT's provider-load errors are captured, not sprayed


def test_tensorrt_ep_gets_a_keyed_cache_folder(cache: Path, tmp_path: Path) -> None:
    runner = open_runner(ModelConfig(builtin="decoder-tiny"),
                         RuntimeConfig(provider="tensorrt", fallback=True, precision="fp16", cache_dir=str(tmp_path)),
                         cache_dir=cache)
    options = runner.environment()["provider_options"]["TensorrtExecutionProvider"]
    folder = Path(options["trt_engine_cache_path"])
    assert folder.parent == tmp_path / "tensorrt" and folder.is_dir()
    assert folder.name.startswith(runner.environment()["model"]["sha256"][:12])
    assert options["trt_fp16_enable"] == "True"


def test_unknown_provider_is_refused() -> None:
    with pytest.raises(UsageError, match="'rocm' is not an ONNX Runtime provider; choose from cpu, cuda, tensorrt"):
        open_runner(ModelConfig(builtin="decoder-tiny"), RuntimeConfig(provider="rocm"))



def test_fallback_from_tensorrt_fp16_runs_fp32_weights_and_says_so(cache: Path, tmp_path: Path) -> None:
    if _gpu_works():
        pytest.skip("a working GPU provider: TensorRT builds the fp16 engine itself and nothing falls back")
    runner = open_runner(ModelConfig(builtin="decoder-tiny"),
                         RuntimeConfig(provider="tensorrt", precision="fp16", fallback=True, cache_dir=str(tmp_path)),
                         cache_dir=cache)
    env = runner.environment()
    assert env["provider_used"] == "CPUExecutionProvider" and env["fell_back"] is True
    assert (env["precision_requested"], env["precision"], env["model"]["dtype"]) == ("fp16", "fp32", "fp32")


def test_trt_profiles_span_the_decoder_context() -> None:
    inputs = {"input_ids": ("batch_size", "sequence_length"), "attention_mask": ("batch_size", "total_sequence_length"),
              "past_key_values.0.key": ("batch_size", 2, "past_sequence_length", 16)}
    shapes = trt_profile_shapes(inputs, {}, max_batch=4, max_context=256)
    assert shapes == {
        "trt_profile_min_shapes": "input_ids:1x1,attention_mask:1x1,past_key_values.0.key:1x2x0x16",
        "trt_profile_opt_shapes": "input_ids:1x1,attention_mask:1x129,past_key_values.0.key:1x2x128x16",
        "trt_profile_max_shapes": "input_ids:4x256,attention_mask:4x256,past_key_values.0.key:4x2x255x16",
    }
    assert trt_profile_shapes({"data_0": (1, 3, 224, 224)}, {}, max_batch=8, max_context=0) == {}
    encoder = trt_profile_shapes({"input_ids": ("batch_size", "sequence_length")}, {"sequence_length": 24},
                                 max_batch=8, max_context=512)
    assert encoder["trt_profile_max_shapes"] == "input_ids:8x24"
    with pytest.raises(UsageError, match=r"'pixels' axis 2 is the symbolic dimension 'height'.*model\.dims\.height"):
        trt_profile_shapes({"pixels": ("batch", 3, "height", 224)}, {}, max_batch=1, max_context=1)


def test_tensorrt_ep_options_carry_profiles_for_a_decoder(cache: Path, tmp_path: Path) -> None:
    runner = open_runner(ModelConfig(builtin="decoder-tiny", dims={"max_batch": 2}),
                         RuntimeConfig(provider="tensorrt", fallback=True, cache_dir=str(tmp_path)), cache_dir=cache)
    options = runner.environment()["provider_options"]["TensorrtExecutionProvider"]
    assert "past_key_values.1.value:2x2x255x16" in options["trt_profile_max_shapes"]
    assert "position_ids:1x1" in options["trt_profile_min_shapes"]
