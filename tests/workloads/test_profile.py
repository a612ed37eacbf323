"""Profile loading and validation: every error names the file, the dotted key and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from wattfleet.agent.workloads.config import SCENARIOS
from wattfleet.agent.workloads.profile import (
    apply_overrides,
    builtin_profiles,
    find_profile,
    load_profile,
    load_profile_text,
    profile_from_dict,
    profile_to_dict,
)
from wattfleet.core.errors import ConfigError

BASE = """
name = "p"
[model]
builtin = "decoder-tiny"
[load]
scenario = "server"
rate = 4
"""


def test_builtin_profiles_cover_every_scenario_and_model_kind() -> None:
    profiles = builtin_profiles()
    names = {p.name for p in profiles}
    assert "smoke" in names
    assert {p.load.scenario for p in profiles} == set(SCENARIOS)
    models = {p.model.builtin.split("-")[0] for p in profiles}
    assert {"decoder", "encoder", "cnn"} <= models
    assert {"cuda", "tensorrt"} <= {p.runtime.provider for p in profiles}
    assert any(p.name.startswith("edge-") for p in profiles)
    for p in profiles:  # every profile round-trips through its dict form
        assert profile_from_dict(profile_to_dict(p), source=p.source) == p


def test_alias_and_types() -> None:
    p = load_profile_text(BASE, source="x.toml")
    assert p.load.rate_qps == 4.0 and isinstance(p.load.rate_qps, float)
    assert p.source == "x.toml" and p.model.builtin == "decoder-tiny"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (BASE.replace("rate = 4", "rate = -1"), "profiles/x.toml: load.rate: expected a number > 0, got -1"),
        (BASE + "colour = 1\n", "profiles/x.toml: load.colour: unknown key; expected one of"),
        (BASE.replace('"server"', '"burst"'), "load.scenario: expected one of 'single-stream'"),
        (BASE + "concurrency = 2.5\n", "load.concurrency: expected an integer, got 2.5"),
        (BASE + "[runtime]\nprovider = 'rocm'\n", "runtime.provider: expected one of 'cpu'"),
        (BASE + "[slo]\nttft_ms = 0\n", "slo.ttft_ms: expected a number > 0, got 0"),
        (BASE + "[model.dims]\nseq = 0\n", "model.dims.seq: expected an integer >= 1"),
        (BASE.replace('builtin = "decoder-tiny"', ""), "model: expected exactly one of model.builtin"),
        (BASE.replace('"server"', '"sweep"'), "load.sweep.values: expected a non-empty list"),
        (BASE + "min_duration_s = 10\nmax_duration_s = 5\n", "load.max_duration_s: expected >="),
        ("[hardware]\nx = 1\n", "hardware: unknown key"),
        ("name = [", "not valid TOML"),
    ],
)
def test_validation_errors(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_profile_text(text, source="profiles/x.toml")
    assert needle in str(info.value)
    assert str(info.value).startswith("profiles/x.toml")


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_profile(tmp_path / "missing.toml")
    path = tmp_path / "mine.toml"
    path.write_text(BASE.replace('name = "p"', ""))
    assert load_profile(path).name == "mine"  # the file name when no name is given
    with pytest.raises(ConfigError, match="no profile 'nope'"):
        find_profile("nope")
    profile, text = find_profile("smoke")
    assert profile.name == "smoke" and "decoder-tiny" in text


def test_overrides() -> None:
    p = load_profile_text(BASE, source="x.toml")
    q = apply_overrides(p, {"load.rate": "8", "runtime.fallback": "true", "model.dims.seq": "64",
                            "slo.tpot_ms": "20", "load.sweep.values": "1,2,4"})
    assert q.load.rate_qps == 8.0 and q.runtime.fallback and q.model.dims == {"seq": 64}
    assert q.slo.tpot_ms == 20.0 and q.load.sweep.values == (1.0, 2.0, 4.0)
    assert apply_overrides(p, {"model.path": "m.onnx"}).model.builtin == ""
    with pytest.raises(ConfigError, match=r"load.rate: expected a number > 0, got -2"):
        apply_overrides(p, {"load.rate": "-2"})
    with pytest.raises(ConfigError, match=r"unknown key 'load\.nope'"):
        apply_overrides(p, {"load.nope": "1"})
