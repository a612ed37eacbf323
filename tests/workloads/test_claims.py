"""What a profile claims and what it needs: defaults that can produce a valid run, refusals before
anything runs (one line naming the key and the number), and `--percentiles` through `wattfleet bench`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from wattfleet.agent.workloads.config import LoadConfig
from wattfleet.agent.workloads.profile import apply_overrides, load_profile_text, profile_from_dict, profile_to_dict
from wattfleet.agent.workloads.scenarios import resolve_load, server_schedule
from wattfleet.core.errors import ConfigError
from wattfleet.core.model import RunRecord

WATTFLEET = str(Path(sys.executable).parent / "wattfleet")
HEAD = 'name = "p"\n[model]\nbuiltin = "decoder-tiny"\n[load]\n'


def _refusal(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_profile_text(HEAD + text, source="x.toml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("x.toml: ")
    return message


def test_default_minimum_follows_the_claimed_percentile() -> None:
    assert resolve_load(LoadConfig()).min_queries == 64  # single-stream claims p90
    assert resolve_load(LoadConfig(scenario="concurrency")).min_queries == 64
    assert resolve_load(LoadConfig(scenario="server")).min_queries == 662  # p99
    assert resolve_load(LoadConfig(scenario="server", target_latency_percentile=90.0)).min_queries == 64
    assert resolve_load(LoadConfig(scenario="offline")).min_queries == 8  # no latency claim
    assert resolve_load(LoadConfig(target_latency_percentile=0.0)).min_queries == 8


def test_default_server_cap_holds_the_arrivals_the_claim_needs() -> None:
    for rate in (1.0, 4.0, 50.0):
        load = resolve_load(LoadConfig(scenario="server", rate_qps=rate, min_duration_s=5.0))
        schedule = server_schedule(load)
        assert len(schedule) >= 662 and schedule[-1] >= 5e9, rate
        assert (load.max_duration_s or 0) * 1e9 >= schedule[-1]
    assert resolve_load(LoadConfig(min_duration_s=50.0)).max_duration_s == 100.0  # others: max(60, 2 x min)


@pytest.mark.parametrize(
    ("text", "key", "number"),
    [
        ("min_queries = 63\n", "load.min_queries", "64"),
        ('scenario = "concurrency"\nmin_queries = 32\n', "load.min_queries", "64"),
        ('scenario = "server"\nmin_queries = 661\n', "load.min_queries", "662"),
        ('scenario = "server"\ntarget_latency_percentile = 90.0\nmin_queries = 50\n', "load.min_queries", "64"),
        ("max_queries = 50\n", "load.max_queries", "64"),
        ('scenario = "server"\nrate = 4\nmax_duration_s = 60\n', "load.max_duration_s", "662"),
        # a rate sweep's levels are server runs, which claim p99
        ('scenario = "sweep"\nmin_queries = 32\n[load.sweep]\nover = "rate"\nvalues = [2.0, 50.0]\n',
         "load.min_queries", "662"),
    ],
)
def test_a_claim_its_counts_cannot_support_is_refused(text: str, key: str, number: str) -> None:
    message = _refusal(text)
    assert f": {key}: " in message and number in message, message


def test_the_server_cap_refusal_says_how_long_is_needed() -> None:
    message = _refusal('scenario = "server"\nrate = 4\nmax_duration_s = 60\n')
    assert "60 s holds 216 of the 662 arrivals" in message and "at least 175 s" in message


def test_no_claim_or_enough_queries_is_accepted() -> None:
    assert load_profile_text(HEAD + "min_queries = 64\n").load.min_queries == 64
    assert load_profile_text(HEAD + "min_queries = 3\ntarget_latency_percentile = 0\n").load.min_queries == 3
    assert load_profile_text(HEAD + 'scenario = "offline"\nmin_queries = 2\n').load.min_queries == 2


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("target_latency_percentile = 100\n", "load.target_latency_percentile: expected 0 (no claim)"),
        ("target_latency_percentile = 99.999\n", "or a percentile up to 99.99, got 99.999"),
        ('scenario = "offline"\ntarget_latency_percentile = 90\n', "offline measures throughput"),
        ('harness = "loadgen"\nscenario = "concurrency"\n', "load.harness: 'loadgen' runs LoadGen's scenarios"),
        ('harness = "loadgen"\nscenario = "server"\narrival = "gamma"\n', "load.arrival: LoadGen's server"),
        ('harness = "loadgen"\nbatch_size = 2\n', "load.batch_size: LoadGen issues one sample per query"),
        ('harness = "mlperf"\n', "load.harness: expected one of 'native', 'loadgen'"),
        ("[figures]\npercentiles = 'numpy'\n", "figures.percentiles: expected one of 'loadgen', 'vllm'"),
    ],
)
def test_harness_and_figures_keys_are_checked(text: str, needle: str) -> None:
    assert needle in _refusal(text)


def test_defaults_stay_defaults_through_the_dict_form_and_overrides() -> None:
    p = load_profile_text(HEAD + 'scenario = "server"\nrate = 4\n', source="x.toml")
    assert p.load.min_queries is None and p.load.max_duration_s is None
    assert profile_from_dict(profile_to_dict(p), source="x.toml") == p
    slower = apply_overrides(p, {"load.rate": "1"})  # the derived cap follows the new rate: not refused
    assert slower.load.max_duration_s is None and (resolve_load(slower.load).max_duration_s or 0) > 600
    with pytest.raises(ConfigError, match=r"load\.min_queries: 100 is too few.*662"):
        apply_overrides(p, {"load.min_queries": "100"})


def _bench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WATTFLEET, "bench", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_bench_refuses_too_few_queries_in_one_line_before_running(tmp_path: Path) -> None:
    proc = _bench("--model", "decoder-tiny", "--queries", "10", "--no-energy", cwd=tmp_path)
    assert proc.returncode == 2  # a profile that cannot be valid is bad input
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "load.min_queries: 10 is too few" in lines[0] and "64" in lines[0], proc.stderr
    assert not list(tmp_path.glob("*.json")) and "measuring" not in proc.stderr


def test_bench_percentiles_vllm_recomputes_every_table_from_the_raw_values(tmp_path: Path) -> None:
    proc = _bench("smoke", "--percentiles", "vllm", "--no-energy", "--out", "r.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    record = RunRecord.from_json((tmp_path / "r.json").read_text())
    assert record.validity.percentile_method == "vllm" and record.profile["figures"]["percentiles"] == "vllm"
    meas = [r for r in record.queries if not r.warmup]
    tpot = [(r.done_ns - r.token_ns[0]) / 1e6 / (r.n_out - 1) for r in meas]
    for p in (50, 90, 99):
        f = record.figure(f"tpot_p{p}")
        assert f is not None and "vLLM" in f.definition
        assert f.value == pytest.approx(float(np.percentile(tpot, p)), rel=1e-12)
    assert "percentiles as vLLM: numpy linear interpolation" in proc.stdout
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["validity"]["percentile_method"] == "vllm"
