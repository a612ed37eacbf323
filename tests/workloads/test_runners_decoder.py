"""The generative runner on real ONNX Runtime sessions: greedy decoding, timestamps, threads, bad input."""

from __future__ import annotations

import dataclasses
import gc
import shutil
import threading
import time
import weakref
from pathlib import Path

import numpy as np
import onnx
import pytest

from wattfleet.agent.workloads.config import ModelConfig, RuntimeConfig
from wattfleet.agent.workloads.models import DECODERS, builtin_model_path
from wattfleet.agent.workloads.models.decoder import build_decoder
from wattfleet.agent.workloads.runners import ColdStart, GenerativeRunner, open_runner
from wattfleet.core.errors import ConfigError, UsageError


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def runner(cache: Path) -> GenerativeRunner:
    opened = open_runner(ModelConfig(builtin="decoder-tiny"), RuntimeConfig(intra_op_threads=1), cache_dir=cache)
    assert isinstance(opened, GenerativeRunner)
    return opened


def test_open_runner_reports_kind_provider_and_cold_start(runner: GenerativeRunner) -> None:
    assert runner.kind == "generative"
    assert runner.provider_used == "CPUExecutionProvider"
    assert runner.vocab_size == DECODERS["decoder-tiny"].vocab
    assert runner.max_context == DECODERS["decoder-tiny"].max_context
    assert isinstance(runner.cold_start, ColdStart)
    assert runner.cold_start.session_build_s > 0 and runner.cold_start.first_inference_s > 0
    env = runner.environment()
    assert env["provider_used"] == "CPUExecutionProvider" and env["fell_back"] is False
    assert len(env["model"]["sha256"]) == 64 and env["model"]["params"] > 100_000
    assert env["versions"]["onnxruntime"] and env["versions"]["onnx"]
    assert env["precision"] == "fp32" and env["threads"]["intra_op"] == 1
    assert env["cold_start"]["session_build_s"] == runner.cold_start.session_build_s


def test_make_prompts_is_seeded(runner: GenerativeRunner) -> None:
    prompts = runner.make_prompts(3, 10, seed=7)
    assert prompts == runner.make_prompts(3, 10, seed=7)
    assert prompts != runner.make_prompts(3, 10, seed=8)
    assert [len(p) for p in prompts] == [10, 10, 10]
    assert all(0 <= t < runner.vocab_size for p in prompts for t in p)


def test_generate_calls_on_token_for_every_token_in_order(runner: GenerativeRunner) -> None:
    events: list[tuple[int, int, int]] = []
    before = time.monotonic_ns()
    out = runner.generate(runner.make_prompts(3, 12, seed=1), 9, on_token=lambda b, i, t: events.append((b, i, t)))
    after = time.monotonic_ns()
    assert [len(row) for row in out] == [9, 9, 9]
    assert sorted((b, i) for b, i, _ in events) == [(b, i) for b in range(3) for i in range(9)]
    for b in range(3):
        stamps = [t for bb, _, t in events if bb == b]
        assert stamps == sorted(stamps) and before <= stamps[0] and stamps[-1] <= after
        assert len(set(stamps)) == 9  # one timestamp per decode step


def test_batched_generation_equals_one_prompt_at_a_time(runner: GenerativeRunner) -> None:
    prompts = runner.make_prompts(4, 16, seed=2)
    batched = runner.generate(prompts, 12)
    assert batched == [runner.generate([p], 12)[0] for p in prompts]
    assert batched == runner.generate(prompts, 12)  # deterministic


def test_concurrent_generate_from_threads_matches_sequential(runner: GenerativeRunner) -> None:
    prompt_sets = [runner.make_prompts(2, 8, seed=s) for s in range(4)]
    expected = [runner.generate(p, 10) for p in prompt_sets]
    results: dict[int, list[list[int]]] = {}

    def work(index: int) -> None:
        results[index] = runner.generate(prompt_sets[index], 10)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[i] for i in range(4)] == expected


def test_iobinding_loop_equals_plain_loop(cache: Path) -> None:
    runner = open_runner(ModelConfig(builtin="decoder-tiny"), RuntimeConfig(), cache_dir=cache)
    prompts = runner.make_prompts(2, 8, seed=4)
    plain = runner.generate(prompts, 10)
    runner.loop.device = "cpu"  # the device path (KV cache kept as OrtValues), exercised on the CPU
    stamps: list[int] = []
    assert runner.generate(prompts, 10, on_token=lambda b, i, t: stamps.append(i)) == plain
    assert len(stamps) == 20


def test_prefill_logits_shape(runner: GenerativeRunner) -> None:
    prompts = runner.make_prompts(2, 5, seed=0)
    logits = runner.prefill_logits(prompts)
    assert logits.shape == (2, runner.vocab_size)
    assert logits.argmax(-1).tolist() == [row[0] for row in runner.generate(prompts, 1)]


def test_bad_generate_arguments(runner: GenerativeRunner) -> None:
    with pytest.raises(UsageError, match="exceeds the model's context of 256"):
        runner.generate(runner.make_prompts(1, 250, seed=0), 10)
    with pytest.raises(UsageError, match="share one non-zero length"):
        runner.generate([[1, 2, 3], [1, 2]], 4)
    with pytest.raises(UsageError, match=r"\[0, 512\)"):
        runner.generate([[1, 600]], 4)
    with pytest.raises(UsageError, match="at least 1"):
        runner.generate([[1, 2]], 0)


def test_fp16_precision_on_cpu_runs_the_fp16_weights(cache: Path) -> None:
    runner = open_runner(ModelConfig(builtin="decoder-tiny"), RuntimeConfig(precision="fp16"), cache_dir=cache)
    assert runner.layout.dtype is np.float16
    env = runner.environment()
    assert env["precision"] == "fp16" and env["model"]["dtype"] == "fp16"
    assert len(runner.generate(runner.make_prompts(1, 4, 0), 4)[0]) == 4


def test_int8_on_cpu_is_refused(cache: Path) -> None:
    with pytest.raises(UsageError, match=r"precision int8 on CPUExecutionProvider.*tensorrt"):
        open_runner(ModelConfig(builtin="decoder-tiny"), RuntimeConfig(precision="int8"), cache_dir=cache)


def test_closed_runner_refuses_work(cache: Path) -> None:
    runner = open_runner(ModelConfig(builtin="decoder-tiny"), RuntimeConfig(), cache_dir=cache)
    session = weakref.ref(runner.session)
    runner.close()
    gc.collect()
    assert session() is None  # the model's memory is released, not held by a forgotten reference
    with pytest.raises(UsageError, match="closed"):
        runner.generate([[1, 2]], 2)
    assert runner.environment()["provider_used"] == "CPUExecutionProvider"  # still describable


def test_any_optimum_decoder_from_a_model_dir(tmp_path: Path) -> None:
    """A decoder we did not name: MHA (kv == heads), no position_ids input, found by path."""
    spec = dataclasses.replace(DECODERS["decoder-tiny"], kv_heads=4, position_ids=False, seed=9)
    build_decoder(spec, tmp_path / "custom.onnx")
    runner = open_runner(ModelConfig(path="custom.onnx", max_context=64), RuntimeConfig(), model_dirs=[tmp_path])
    assert runner.kind == "generative"
    assert (runner.layout.layers, runner.layout.kv_heads, runner.layout.head_dim) == (2, 4, 16)
    assert not runner.layout.position_ids and runner.max_context == 64
    assert len(runner.generate(runner.make_prompts(2, 8, 0), 6)[1]) == 6
    assert runner.environment()["model"]["builtin"] is False


def _drop_output(src: Path, dst: Path, name: str) -> None:
    model = onnx.load(str(src))
    keep = [o for o in model.graph.output if o.name != name]
    del model.graph.output[:]
    model.graph.output.extend(keep)
    onnx.save(model, str(dst))


def test_model_breaking_the_convention_is_refused_by_name(tmp_path: Path, cache: Path) -> None:
    _drop_output(builtin_model_path("decoder-tiny", cache), tmp_path / "broken.onnx", "present.1.value")
    with pytest.raises(ConfigError, match=r"missing outputs \['present.1.value'\]"):
        open_runner(ModelConfig(path="broken.onnx"), RuntimeConfig(), model_dirs=[tmp_path])


def test_model_paths_stay_inside_model_dirs(tmp_path: Path, cache: Path) -> None:
    models, outside = tmp_path / "models", tmp_path / "outside"
    models.mkdir()
    outside.mkdir()
    shutil.copy(builtin_model_path("decoder-tiny", cache), outside / "m.onnx")
    (models / "link.onnx").symlink_to(outside / "m.onnx")
    with pytest.raises(UsageError, match="outside the model directories"):
        open_runner(ModelConfig(path="link.onnx"), RuntimeConfig(), model_dirs=[models])
    with pytest.raises(UsageError, match="outside the model directories"):
        open_runner(ModelConfig(path=str(outside / "m.onnx")), RuntimeConfig(), model_dirs=[models])
    with pytest.raises(UsageError, match="outside the model directories"):
        open_runner(ModelConfig(path="../outside/m.onnx"), RuntimeConfig(), model_dirs=[models])
    with pytest.raises(UsageError, match=rf"'nope.onnx' not found; searched {models}"):
        open_runner(ModelConfig(path="nope.onnx"), RuntimeConfig(), model_dirs=[models])
    with pytest.raises(UsageError, match="needs a model directory"):
        open_runner(ModelConfig(path="m.onnx"), RuntimeConfig())
    (models / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ConfigError, match=r"junk\.onnx is not a readable ONNX model"):
        open_runner(ModelConfig(path="junk.onnx"), RuntimeConfig(), model_dirs=[models])


def test_model_config_must_name_exactly_one_source() -> None:
    with pytest.raises(UsageError, match="neither"):
        open_runner(ModelConfig(), RuntimeConfig())
    with pytest.raises(UsageError, match="both"):
        open_runner(ModelConfig(builtin="decoder-tiny", path="x.onnx"), RuntimeConfig())
