"""Built-in models: generated, seeded, cached, and real transformers/CNNs under ONNX Runtime."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from wattfleet.agent.workloads.models import (
    DECODERS,
    builtin_kind,
    builtin_model_path,
    builtin_names,
    default_cache_dir,
)
from wattfleet.agent.workloads.models.cache import file_sha256
from wattfleet.agent.workloads.models.decoder import DecoderSpec, build_decoder
from wattfleet.core.errors import UsageError


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _feeds(spec: DecoderSpec, ids: np.ndarray, past_len: int, past: dict[str, np.ndarray],
           with_positions: bool = True) -> dict[str, np.ndarray]:
    batch, seq = ids.shape
    feeds = {"input_ids": ids, "attention_mask": np.ones((batch, past_len + seq), np.int64), **past}
    if with_positions:
        feeds["position_ids"] = np.tile(np.arange(past_len, past_len + seq), (batch, 1))
    return feeds


def _greedy(session: ort.InferenceSession, spec: DecoderSpec, ids: np.ndarray, steps: int,
            with_positions: bool = True) -> np.ndarray:
    """A plain KV-cache greedy loop written against the graph's declared I/O."""
    dtype = np.float16 if spec.dtype == "fp16" else np.float32
    names = [f"past_key_values.{i}.{k}" for i in range(spec.layers) for k in ("key", "value")]
    past = {n: np.zeros((ids.shape[0], spec.kv_heads, 0, spec.head_dim), dtype) for n in names}
    out, past_len, cur = [], 0, ids
    outputs = ["logits", *(n.replace("past_key_values", "present") for n in names)]
    for _ in range(steps):
        results = session.run(outputs, _feeds(spec, cur, past_len, past, with_positions))
        token = results[0][:, -1].argmax(-1)
        out.append(token)
        past_len += cur.shape[1]
        past = dict(zip(names, results[1:], strict=True))
        cur = token[:, None].astype(np.int64)
    return np.stack(out, axis=1)


def test_builtin_names_cover_every_kind() -> None:
    names = builtin_names()
    for expected in ("decoder-tiny", "decoder-small", "decoder-medium", "decoder-gpt2", "encoder-bert-tiny",
                     "cnn-squeezenet", "cnn-resnet50"):
        assert expected in names
    assert builtin_kind("decoder-small") == "generative"
    assert builtin_kind("cnn-resnet50") == "fixed"
    with pytest.raises(UsageError, match=r"unknown built-in model 'decoder-huge'.*decoder-tiny"):
        builtin_model_path("decoder-huge")


def test_gpt2_scale_spec_matches_gpt2_small() -> None:
    spec = DECODERS["decoder-gpt2"]
    assert (spec.layers, spec.hidden, spec.heads, spec.vocab) == (12, 768, 12, 50257)
    assert 120e6 < spec.n_params() < 170e6


def test_generation_is_seeded_and_cached(tmp_path: Path) -> None:
    first = builtin_model_path("decoder-tiny", tmp_path / "a")
    second = builtin_model_path("decoder-tiny", tmp_path / "b")
    assert file_sha256(first) == file_sha256(second)
    mtime = first.stat().st_mtime_ns
    assert builtin_model_path("decoder-tiny", tmp_path / "a") == first
    assert first.stat().st_mtime_ns == mtime  # reused, not rebuilt
    assert not list((tmp_path / "a").glob("*.tmp"))


def test_cache_key_changes_with_parameters(tmp_path: Path) -> None:
    tiny = builtin_model_path("decoder-tiny", tmp_path)
    other = builtin_model_path("decoder-tiny-fp16", tmp_path)
    assert tiny.name.split("-")[-1] != other.name.split("-")[-1]


def test_default_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "wattfleet" / "models"
    path = builtin_model_path("decoder-tiny")
    assert path.parent == tmp_path / "wattfleet" / "models"


def test_decoder_follows_optimum_io_with_grouped_kv_heads(cache: Path) -> None:
    spec = DECODERS["decoder-tiny"]
    assert spec.kv_heads < spec.heads
    session = _session(builtin_model_path("decoder-tiny", cache))
    inputs = {i.name: i.shape for i in session.get_inputs()}
    outputs = {o.name: o.shape for o in session.get_outputs()}
    assert inputs["past_key_values.1.value"] == ["batch_size", spec.kv_heads, "past_sequence_length",
                                                  spec.head_dim]
    assert outputs["present.0.key"] == ["batch_size", spec.kv_heads, "total_sequence_length", spec.head_dim]
    assert outputs["logits"] == ["batch_size", "sequence_length", spec.vocab]
    assert {"input_ids", "attention_mask", "position_ids"} <= set(inputs)


def test_kv_cache_decoding_equals_full_recompute(cache: Path) -> None:
    spec = DECODERS["decoder-tiny"]
    session = _session(builtin_model_path("decoder-tiny", cache))
    prompt = np.random.default_rng(3).integers(0, spec.vocab, (2, 8))
    tokens = _greedy(session, spec, prompt, 12)
    full = np.concatenate([prompt, tokens], axis=1)
    empty = {f"past_key_values.{i}.{k}": np.zeros((2, spec.kv_heads, 0, spec.head_dim), np.float32)
             for i in range(spec.layers) for k in ("key", "value")}
    logits = session.run(["logits"], _feeds(spec, full, 0, empty))[0]
    np.testing.assert_array_equal(logits[:, 7:-1].argmax(-1), tokens)


def test_attention_mask_hides_padded_positions(cache: Path) -> None:
    spec = DECODERS["decoder-tiny"]
    session = _session(builtin_model_path("decoder-tiny", cache))
    empty = {f"past_key_values.{i}.{k}": np.zeros((1, spec.kv_heads, 0, spec.head_dim), np.float32)
             for i in range(spec.layers) for k in ("key", "value")}
    ids = np.array([[5, 6, 7, 8]])
    feeds = _feeds(spec, ids, 0, empty)
    base = session.run(["logits"], feeds)[0]
    feeds["attention_mask"] = np.array([[0, 1, 1, 1]])
    masked = session.run(["logits"], feeds)[0]
    assert not np.allclose(base[0, -1], masked[0, -1])


def test_greedy_output_does_not_collapse(cache: Path) -> None:
    spec = DECODERS["decoder-tiny"]
    session = _session(builtin_model_path("decoder-tiny", cache))
    tokens = _greedy(session, spec, np.random.default_rng(0).integers(0, spec.vocab, (1, 4)), 48)
    assert len(set(tokens[0].tolist())) >= 16


def test_position_ids_are_optional(tmp_path: Path, cache: Path) -> None:
    spec = dataclasses.replace(DECODERS["decoder-tiny"], position_ids=False)
    build_decoder(spec, tmp_path / "nopos.onnx")
    no_pos = _session(tmp_path / "nopos.onnx")
    assert "position_ids" not in {i.name for i in no_pos.get_inputs()}
    prompt = np.random.default_rng(5).integers(0, spec.vocab, (2, 6))
    with_pos = _session(builtin_model_path("decoder-tiny", cache))
    np.testing.assert_array_equal(_greedy(no_pos, spec, prompt, 10, with_positions=False),
                                  _greedy(with_pos, DECODERS["decoder-tiny"], prompt, 10))


def test_fp16_decoder_tracks_fp32(cache: Path) -> None:
    session16 = _session(builtin_model_path("decoder-tiny-fp16", cache))
    assert session16.get_inputs()[-1].type == "tensor(float16)"
    prompt = np.random.default_rng(1).integers(0, 512, (2, 8))
    a = _greedy(session16, DECODERS["decoder-tiny-fp16"], prompt, 8)
    b = _greedy(_session(builtin_model_path("decoder-tiny", cache)), DECODERS["decoder-tiny"], prompt, 8)
    assert (a == b).mean() >= 0.75


def test_encoder_padding_does_not_leak_into_real_tokens(cache: Path) -> None:
    session = _session(builtin_model_path("encoder-bert-tiny", cache))
    assert [o.name for o in session.get_outputs()] == ["last_hidden_state"]
    ids = np.random.default_rng(2).integers(0, 1024, (1, 12))
    short = {"input_ids": ids[:, :8], "attention_mask": np.ones((1, 8), np.int64),
             "token_type_ids": np.zeros((1, 8), np.int64)}
    mask = np.ones((1, 12), np.int64)
    mask[:, 8:] = 0
    padded = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros((1, 12), np.int64)}
    a = session.run(None, short)[0]
    b = session.run(None, padded)[0]
    assert b.shape == (1, 12, 128)
    np.testing.assert_allclose(a[0], b[0, :8], atol=1e-5)


def test_cnn_from_the_onnx_wheel_has_real_weights(cache: Path) -> None:
    path = builtin_model_path("cnn-squeezenet", cache)
    model = onnx.load(str(path))
    assert not [n for n in model.graph.node if n.op_type == "ConstantOfShape"]
    assert any(n.op_type == "Conv" for n in model.graph.node)
    session = _session(path)
    name = session.get_inputs()[0].name
    rng = np.random.default_rng(0)
    a = session.run(None, {name: rng.standard_normal((1, 3, 224, 224)).astype(np.float32)})[0]
    b = session.run(None, {name: rng.standard_normal((1, 3, 224, 224)).astype(np.float32)})[0]
    assert a.shape == (1, 1000, 1, 1)
    assert np.isfinite(a).all()
    assert not np.allclose(a, b)  # the wheel's constant weights would give identical answers
    assert session.get_inputs()[0].shape[0] == "batch_size"


def test_batchnorm_statistics_are_measured(tmp_path: Path) -> None:
    """A conv -> BN -> relu chain with random weights: after calibration the BN output is near unit scale."""
    from onnx import TensorProto, helper

    from wattfleet.agent.workloads.models.cnn_calibrate import calibrate_batchnorm

    rng = np.random.default_rng(0)
    nodes, inits, x = [], [], "x"
    for i in range(6):
        w = (rng.standard_normal((8, 8 if i else 3, 3, 3)) * 3.0).astype(np.float32)  # deliberately too large
        inits.append(onnx.numpy_helper.from_array(w, f"w{i}"))
        for k, v in (("s", 1.0), ("b", 0.0), ("m", 0.0), ("v", 1.0)):
            inits.append(onnx.numpy_helper.from_array(np.full(8, v, np.float32), f"{k}{i}"))
        nodes += [helper.make_node("Conv", [x, f"w{i}"], [f"c{i}"], pads=[1, 1, 1, 1]),
                  helper.make_node("BatchNormalization", [f"c{i}", f"s{i}", f"b{i}", f"m{i}", f"v{i}"], [f"n{i}"]),
                  helper.make_node("Relu", [f"n{i}"], [f"r{i}"])]
        x = f"r{i}"
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 16, 16])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    data = {"x": rng.standard_normal((2, 3, 16, 16)).astype(np.float32)}
    before = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, data)[0]
    calibrate_batchnorm(model, seed=1)
    after = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, data)[0]
    assert before.std() > 1e4  # identity BNs let the scale explode
    assert 0.2 < after.std() < 2.0
