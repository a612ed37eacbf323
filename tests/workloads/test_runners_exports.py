"""Any decoder export runs with the model's own limits: config.json context, no-cache exports, model.kind,
and dynamically quantised weights recorded as int8. Every model is our own seeded graph, made here."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import onnx
import pytest

from wattfleet.agent.workloads.config import LoadConfig, ModelConfig, Profile, RuntimeConfig
from wattfleet.agent.workloads.driver import run_profile
from wattfleet.agent.workloads.models import DECODERS
from wattfleet.agent.workloads.models.decoder import build_decoder
from wattfleet.agent.workloads.runners import FixedRunner, GenerativeRunner, open_runner
from wattfleet.core.errors import ConfigError, UsageError

SPEC = dataclasses.replace(DECODERS["decoder-tiny"], seed=3)
CPU = RuntimeConfig(intra_op_threads=1)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """kv.onnx and nocache.onnx share their weights (same seed); q8.onnx is kv.onnx quantised."""
    folder = tmp_path_factory.mktemp("exports")
    build_decoder(SPEC, folder / "kv.onnx")
    build_decoder(dataclasses.replace(SPEC, kv_cache=False), folder / "nocache.onnx")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(folder / "kv.onnx"), str(folder / "q8.onnx"), weight_type=QuantType.QInt8)
    return folder


def _strip_metadata(path: Path) -> None:
    """An export as optimum writes it: no wattfleet metadata naming the context."""
    model = onnx.load(str(path))
    keep = [p for p in model.metadata_props if p.key == "wattfleet.params"]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    onnx.save(model, str(path))


@pytest.fixture
def short_export(tmp_path: Path) -> Path:
    """A decoder whose position table has 32 rows, with nothing in the graph that says so."""
    build_decoder(dataclasses.replace(SPEC, max_context=32), tmp_path / "m.onnx")
    _strip_metadata(tmp_path / "m.onnx")
    return tmp_path


def test_without_config_json_the_export_fails_mid_run(short_export: Path) -> None:
    """What config.json prevents: the 2048 default lets ONNX Runtime index past the position table."""
    runner = open_runner(ModelConfig(path="m.onnx"), CPU, model_dirs=[short_export])
    assert runner.max_context == 2048 and "default" in runner.context_source
    with pytest.raises(Exception, match="Gather"):
        runner.generate(runner.make_prompts(1, 24, 0), 16)


def test_context_comes_from_config_json_and_is_enforced_before_the_run(short_export: Path) -> None:
    (short_export / "config.json").write_text(json.dumps({"n_positions": 32, "n_ctx": 64, "vocab_size": 512}))
    runner = open_runner(ModelConfig(path="m.onnx"), CPU, model_dirs=[short_export])
    assert runner.max_context == 32  # the smallest of the keys present
    assert runner.environment()["context"] == {"max_tokens": 32,
                                               "source": f"n_positions in {short_export / 'config.json'}"}
    with pytest.raises(UsageError) as info:
        open_runner(ModelConfig(path="m.onnx"), CPU, model_dirs=[short_export],
                    load=LoadConfig(prompt_tokens=24, output_tokens=16))
    message = str(info.value)
    assert message == (f"load.prompt_tokens 24 + load.output_tokens 16 = 40 exceeds m.onnx's context of 32 tokens "
                       f"(n_positions in {short_export / 'config.json'}); lower one of them")
    # model.max_context still overrides the file.
    assert open_runner(ModelConfig(path="m.onnx", max_context=30), CPU, model_dirs=[short_export]).max_context == 30


def test_a_run_past_the_context_fails_before_any_query(short_export: Path) -> None:
    (short_export / "config.json").write_text(json.dumps({"max_position_embeddings": 32}))
    profile = Profile(name="ctx", model=ModelConfig(path="m.onnx"), runtime=CPU,
                      load=LoadConfig(prompt_tokens=30, output_tokens=8, min_duration_s=0.1, min_queries=2,
                                      target_latency_percentile=0))
    record = run_profile(profile, model_dirs=[short_export])
    assert record.state == "failed" and record.queries == []
    assert "\n" not in record.error and "= 38 exceeds m.onnx's context of 32 tokens" in record.error


def test_broken_config_json_is_named(short_export: Path) -> None:
    (short_export / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"config\.json: not valid JSON"):
        open_runner(ModelConfig(path="m.onnx"), CPU, model_dirs=[short_export])


def test_no_cache_export_is_detected_and_answers_like_the_kv_export(models: Path) -> None:
    kv = open_runner(ModelConfig(path="kv.onnx"), CPU, model_dirs=[models])
    full = open_runner(ModelConfig(path="nocache.onnx"), CPU, model_dirs=[models])
    assert isinstance(full, GenerativeRunner) and full.kind == "generative"
    env = full.environment()
    assert env["model_kind"]["kind"] == "decoder-no-cache" and env["model_kind"]["why"].startswith("detected")
    assert env["kv_cache"] is False and env["io_binding"] is False
    prompts = kv.make_prompts(3, 8, seed=1)
    events: list[tuple[int, int]] = []
    out = full.generate(prompts, 10, on_token=lambda b, k, t: events.append((b, k)))
    assert out == kv.generate(prompts, 10)  # same weights: full recompute gives the cached loop's tokens
    assert sorted(events) == [(b, k) for b in range(3) for k in range(10)]
    assert full.prefill_logits(prompts).argmax(-1).tolist() == [row[0] for row in out]


def test_model_kind_picks_the_loop(models: Path) -> None:
    kv = open_runner(ModelConfig(path="kv.onnx"), CPU, model_dirs=[models])
    forced = open_runner(ModelConfig(path="kv.onnx", kind="decoder-no-cache"), CPU, model_dirs=[models])
    assert forced.environment()["kv_cache"] is False
    assert forced.environment()["model_kind"] == {"kind": "decoder-no-cache", "why": "model.kind"}
    prompts = kv.make_prompts(2, 6, seed=2)
    assert forced.generate(prompts, 7) == kv.generate(prompts, 7)
    with pytest.raises(ConfigError, match=r"missing inputs \['past_key_values.0.key'\].*'decoder-no-cache'"):
        open_runner(ModelConfig(path="nocache.onnx", kind="decoder"), CPU, model_dirs=[models])
    fixed = open_runner(ModelConfig(path="nocache.onnx", kind="fixed", dims={"sequence_length": 5}), CPU,
                        model_dirs=[models])
    assert isinstance(fixed, FixedRunner) and fixed.infer(2)[0].shape == (2, 5, SPEC.vocab)


def test_decoder_flags_on_a_fixed_model_are_refused_and_prompt_tokens_binds_the_sequence(models: Path) -> None:
    fixed = ModelConfig(path="nocache.onnx", kind="fixed")
    with pytest.raises(UsageError, match=r"^load.output_tokens 16 is given, but nocache.onnx runs as a fixed-shape"):
        open_runner(fixed, CPU, model_dirs=[models], load=LoadConfig(output_tokens=16),
                    given={"load.output_tokens"})
    runner = open_runner(fixed, CPU, model_dirs=[models], load=LoadConfig(prompt_tokens=12),
                         given={"load.prompt_tokens"})
    assert runner.input_batch(1)["input_ids"].shape == (1, 12)
    # Defaults that nobody wrote are not flags: the same load without `given` opens (with dims bound).
    assert open_runner(dataclasses.replace(fixed, dims={"sequence_length": 4}), CPU, model_dirs=[models],
                       load=LoadConfig(output_tokens=16)).kind == "fixed"


def test_dynamically_quantised_model_is_recorded_as_int8(models: Path) -> None:
    runner = open_runner(ModelConfig(path="q8.onnx"), CPU, model_dirs=[models])
    env = runner.environment()
    assert env["precision"] == "int8" and env["model"]["dtype"] == "int8"
    assert env["weights"]["precision"] == "int8" and "MatMulInteger" in env["weights"]["evidence"]
    assert env["precision_requested"] == "fp32"
    assert env["precision_note"] == "ran in int8 (q8.onnx's weights are int8); runtime.precision asked for fp32"
    # Asking for int8 on the CPU is now satisfiable by the model itself, and is recorded without a note.
    asked = open_runner(ModelConfig(path="q8.onnx"), RuntimeConfig(precision="int8", intra_op_threads=1),
                        model_dirs=[models]).environment()
    assert asked["precision"] == "int8" and "precision_note" not in asked
    fp32 = open_runner(ModelConfig(path="kv.onnx"), CPU, model_dirs=[models]).environment()
    assert fp32["precision"] == "fp32" and fp32["weights"]["precision"] == "fp32" and "precision_note" not in fp32
    assert len(runner.generate(runner.make_prompts(2, 8, 0), 6)[1]) == 6


def test_cache_keys_of_existing_builtins_did_not_move() -> None:
    assert "kv_cache" not in SPEC.params()
    assert dataclasses.replace(SPEC, kv_cache=False).params()["kv_cache"] is False
