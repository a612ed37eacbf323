"""generate() with a limit per prompt and an end-of-sequence token: each prompt stops on its own, the batch
goes on for the others, outputs have their real lengths, and on_token sees exactly the produced tokens.
The EOS token is produced (returned, timestamped and counted), as vLLM counts it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from wattfleet.agent.workloads.config import ModelConfig, RuntimeConfig
from wattfleet.agent.workloads.models import DECODERS
from wattfleet.agent.workloads.models.decoder import build_decoder
from wattfleet.agent.workloads.runners import GenerativeRunner, open_runner
from wattfleet.core.errors import UsageError

SPEC = dataclasses.replace(DECODERS["decoder-tiny"], seed=5)
CPU = RuntimeConfig(intra_op_threads=1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("stops")
    build_decoder(SPEC, folder / "kv.onnx")
    build_decoder(dataclasses.replace(SPEC, kv_cache=False), folder / "nocache.onnx")
    return folder


def _runner(folder: Path, loop: str) -> GenerativeRunner:
    name = "nocache.onnx" if loop == "no-cache" else "kv.onnx"
    runner = open_runner(ModelConfig(path=name), CPU, model_dirs=[folder])
    if loop == "iobinding":
        runner.loop.device = "cpu"  # the device path (KV cache as OrtValues), exercised on the CPU
    return runner


def _expected(full: list[int], limit: int, eos: set[int]) -> list[int]:
    """By hand: the full greedy run cut at the limit, and just after the first EOS."""
    out = []
    for token in full[:limit]:
        out.append(token)
        if token in eos:
            break
    return out


LOOPS = ["plain", "iobinding", "no-cache"]


@pytest.mark.parametrize("loop", LOOPS)
def test_per_prompt_limits(folder: Path, loop: str) -> None:
    runner = _runner(folder, loop)
    prompts = runner.make_prompts(3, 8, seed=1)
    full = runner.generate(prompts, 9)
    events: list[tuple[int, int, int]] = []
    out = runner.generate(prompts, [3, 9, 5], on_token=lambda b, k, t: events.append((b, k, t)))
    assert out == [full[0][:3], full[1], full[2][:5]]
    assert sorted((b, k) for b, k, _ in events) == [(b, k) for b, n in enumerate((3, 9, 5)) for k in range(n)]
    # One decode step, one timestamp, shared by the prompts still producing.
    by_step = {k: {t for _, kk, t in events if kk == k} for k in range(9)}
    assert all(len(stamps) == 1 for stamps in by_step.values())


@pytest.mark.parametrize("loop", LOOPS)
def test_end_of_sequence_stops_each_prompt_and_counts_the_eos_token(folder: Path, loop: str) -> None:
    runner = _runner(folder, loop)
    prompts = runner.make_prompts(4, 6, seed=3)
    full = runner.generate(prompts, 12)
    eos = full[0][2]  # a token prompt 0 produces third: it must stop right after it
    events: list[tuple[int, int]] = []
    out = runner.generate(prompts, 12, on_token=lambda b, k, t: events.append((b, k)), eos_token_id=eos)
    assert out == [_expected(row, 12, {eos}) for row in full]
    assert len(out[0]) <= 3 and out[0][-1] == eos
    assert sorted(events) == sorted((b, k) for b, row in enumerate(out) for k in range(len(row)))
    # Several EOS ids (a list, as Llama 3's config has) and per-prompt limits together.
    two = {full[1][1], full[2][4]}
    mixed = runner.generate(prompts, [2, 12, 12, 7], eos_token_id=sorted(two))
    assert mixed == [_expected(row, n, two) for row, n in zip(full, (2, 12, 12, 7), strict=True)]


def test_the_batch_ends_when_every_prompt_has_stopped(folder: Path) -> None:
    runner = _runner(folder, "plain")
    prompts = runner.make_prompts(2, 6, seed=4)
    full = runner.generate(prompts, 10)
    eos = {full[0][1], full[1][1]}
    steps: list[int] = []
    out = runner.generate(prompts, 10, on_token=lambda b, k, t: steps.append(k), eos_token_id=sorted(eos))
    assert max(steps) == max(len(row) for row in out) - 1 <= 1  # no step ran after the last prompt stopped


def test_eos_from_generation_config_beside_the_model(folder: Path, tmp_path: Path) -> None:
    build_decoder(SPEC, tmp_path / "m.onnx")
    (tmp_path / "config.json").write_text(json.dumps({"eos_token_id": 7}))
    assert open_runner(ModelConfig(path="m.onnx"), CPU, model_dirs=[tmp_path]).eos_token_ids == (7,)
    (tmp_path / "generation_config.json").write_text(json.dumps({"eos_token_id": [11, 12]}))
    runner = open_runner(ModelConfig(path="m.onnx"), CPU, model_dirs=[tmp_path])
    assert runner.eos_token_ids == (11, 12)  # generation_config.json wins, as in transformers
    source = runner.environment()["export_config"]["eos_source"]
    assert source == f"eos_token_id in {tmp_path / 'generation_config.json'}"
    # Without eos_token_id, generation runs to the limit whatever the model says (a fixed-length benchmark).
    assert [len(r) for r in runner.generate(runner.make_prompts(2, 4, 0), 6)] == [6, 6]


def test_bad_limits(folder: Path) -> None:
    runner = _runner(folder, "plain")
    prompts = runner.make_prompts(2, 4, seed=0)
    with pytest.raises(UsageError, match="2 limits for 3 prompts"):
        runner.generate(runner.make_prompts(3, 4, 0), [2, 3])
    with pytest.raises(UsageError, match="at least 1, got 0"):
        runner.generate(prompts, [3, 0])
    with pytest.raises(UsageError, match=r"4 tokens \+ 300 new tokens = 304 exceeds the model's context of 256"):
        runner.generate(prompts, [1, 300])
