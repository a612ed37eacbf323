"""Opening a profile's runner: only the keys a user wrote count as decoder flags, load.prompt_tokens binds an
encoder's sequence axis, and the server workers follow the host's cores (the record says how many, why)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import pytest

from wattfleet.agent.workloads.cli import build_parser, resolve
from wattfleet.agent.workloads.config import RuntimeConfig
from wattfleet.agent.workloads.driver import run_profile
from wattfleet.agent.workloads.models import builtin_model_path
from wattfleet.agent.workloads.profile import apply_overrides, load_profile_text, profile_from_dict, profile_to_dict
from wattfleet.agent.workloads.runners.for_profile import open_profile
from wattfleet.agent.workloads.runners.plan import server_workers
from wattfleet.core.errors import UsageError

ENCODER = """
name = "enc"
[model]
builtin = "encoder-bert-tiny"
[runtime]
intra_op_threads = 1
[load]
prompt_tokens = 24
min_duration_s = 0.05
min_queries = 2
target_latency_percentile = 0
warmup_queries = 0
"""


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def test_the_profile_knows_which_keys_were_written() -> None:
    profile = load_profile_text(ENCODER, source="enc.toml")
    assert {"model.builtin", "load.prompt_tokens", "runtime.intra_op_threads"} <= profile.given
    assert "load.output_tokens" not in profile.given  # a default, not a flag
    changed = apply_overrides(profile, {"load.output_tokens": "8", "model.dims.sequence_length": "24"})
    assert {"load.output_tokens", "model.dims.sequence_length", "load.prompt_tokens"} <= changed.given
    assert profile_from_dict(profile_to_dict(profile), source="enc.toml") == profile  # equality ignores it


def test_prompt_tokens_binds_an_encoders_sequence_axis(cache: Path) -> None:
    opened = open_profile(load_profile_text(ENCODER), cache_dir=cache)
    assert opened.runner.input_batch(2)["input_ids"].shape == (2, 24)
    assert opened.profile.model.dims == {"sequence_length": 24}  # the quality reference opens with the same
    with pytest.raises(UsageError, match=r"load.prompt_tokens 24 and model.dims.sequence_length 8 disagree"):
        open_profile(apply_overrides(load_profile_text(ENCODER), {"model.dims.sequence_length": "8"}), cache_dir=cache)


def test_bench_flag_reaches_the_encoder(cache: Path) -> None:
    profile, _, dirs = resolve(build_parser().parse_args(["--model", "encoder-bert-tiny", "--prompt-tokens", "16"]))
    runner = open_profile(profile, model_dirs=dirs, cache_dir=cache).runner
    assert runner.input_batch(1)["attention_mask"].shape == (1, 16)


def test_encoder_context_from_config_json(cache: Path, tmp_path: Path) -> None:
    shutil.copy(builtin_model_path("encoder-bert-tiny", cache), tmp_path / "bert.onnx")
    (tmp_path / "config.json").write_text(json.dumps({"max_position_embeddings": 128}))
    text = ENCODER.replace('builtin = "encoder-bert-tiny"', 'path = "bert.onnx"').replace("= 24", "= 200")
    with pytest.raises(UsageError, match=r"^load.prompt_tokens 200 exceeds bert.onnx's context of 128 tokens "
                                         r"\(max_position_embeddings in .*config.json\); lower it$"):
        open_profile(load_profile_text(text), model_dirs=[tmp_path])


def test_decoder_flags_on_fixed_models_fail_the_run_before_any_query(cache: Path) -> None:
    profile = apply_overrides(load_profile_text(ENCODER), {"load.output_tokens": "8"})
    record = run_profile(profile, cache_dir=cache)
    assert record.state == "failed" and record.queries == [] and "\n" not in record.error
    assert record.error.startswith("load.output_tokens 8 is given, but encoder-bert-tiny runs as a fixed-shape model")
    cnn = load_profile_text(ENCODER.replace("encoder-bert-tiny", "cnn-squeezenet"))
    with pytest.raises(UsageError, match=r"^load.prompt_tokens 24 is given, but cnn-squeezenet is a fixed-shape "
                                         "model without an input_ids sequence axis"):
        open_profile(cnn, cache_dir=cache)
    # The same CNN with the defaults nobody wrote runs.
    quiet = dataclasses.replace(cnn, given=cnn.given - {"load.prompt_tokens"})
    assert open_profile(quiet, cache_dir=cache).runner.kind == "fixed"


def test_server_workers_rule() -> None:
    assert server_workers(3, RuntimeConfig(), 16) == (3, "load.server_workers as given")
    assert server_workers(0, RuntimeConfig(intra_op_threads=2), 16)[0] == 8
    assert server_workers(0, RuntimeConfig(intra_op_threads=32), 16)[0] == 1
    assert server_workers(0, RuntimeConfig(), 16) == (
        1, "auto: 16 cores // 16 per query (ONNX Runtime's default pool uses every core) = 1")
    assert server_workers(0, RuntimeConfig(provider="cuda"), 16)[0] == 16


def test_a_server_run_records_how_many_workers_ran_and_why(cache: Path) -> None:
    text = ENCODER.replace("prompt_tokens = 24", 'scenario = "server"\nrate = 200.0\nmax_duration_s = 5.0')
    profile = apply_overrides(load_profile_text(text), {"model.builtin": "decoder-tiny", "load.prompt_tokens": "4",
                                                         "load.output_tokens": "2"})
    record = run_profile(profile, cache_dir=cache)
    assert record.state == "completed", record.error
    cores = os.cpu_count() or 1
    assert record.environment["load"] == {
        "server_workers": cores,
        "server_workers_why": f"auto: {cores} cores // 1 per query (runtime.intra_op_threads = 1) = {cores}"}
    assert record.profile["load"]["server_workers"] == 0  # what the user asked for: auto
