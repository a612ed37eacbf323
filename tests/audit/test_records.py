"""The record adapter: real `wattfleet bench` records, synthetic ones in the same shape, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.audit.synth import record, write
from wattfleet.tui.fleet.audit import audit_run_from_record, load_runs
from wattfleet.tui.fleet.audit.records import RecordError


@pytest.fixture(scope="module")
def smoke_record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One record from a real run of the built-in smoke profile (about a second on CPU)."""
    pytest.importorskip("onnxruntime", reason="the smoke run needs the agent extra (ONNX Runtime)")
    out = tmp_path_factory.mktemp("smoke") / "smoke.json"
    result = subprocess.run([sys.executable, "-m", "wattfleet.core.cli", "bench", "smoke", "--out", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return out


def test_a_real_bench_record_reads_with_its_figures(smoke_record: Path) -> None:
    raw = json.loads(smoke_record.read_text())
    runset = load_runs([smoke_record])
    assert runset.rejected == ()
    (run,) = runset.runs
    figures = {(f["name"], f["domain"]): f["value"] for f in raw["figures"]}
    assert run.host == raw["environment"]["host"]["hostname"]
    assert run.profile == "smoke" and run.setting == "single-stream"
    assert run.tokens_per_s == figures[("tokens_per_s", "")]
    assert run.ttft_p99_ms == figures[("ttft_p99", "")]
    assert run.valid is raw["validity"]["valid"]
    assert run.env.provider == raw["environment"]["provider_used"]
    assert run.env.device_model == raw["environment"]["device"]["name"]
    for domain in raw["energy"] or {}:
        assert run.domains[domain].power_avg_w == figures.get(("power_avg_w", domain))
    # a CPU run's headline is cpu-package where RAPL is readable, else the estimate (METRICS.md)
    assert run.headline_domain in ("cpu-package", "estimated", "")


def test_synthetic_records_have_the_real_record_keys(smoke_record: Path) -> None:
    raw = json.loads(smoke_record.read_text())
    synth = record("h1")
    assert set(synth) - {"host_id"} <= set(raw), set(synth) - set(raw)
    real_env, synth_env = raw["environment"], synth["environment"]
    assert {"provider_used", "precision", "device", "versions", "host"} <= set(real_env)
    assert set(synth_env) <= set(real_env)
    real_fig = next(f for f in raw["figures"] if f["name"] == "tokens_per_s")
    assert set(synth["figures"][0]) == set(real_fig)


def test_unknown_schema_version_is_a_reason_and_the_rest_is_read(tmp_path: Path) -> None:
    write(tmp_path, [record("a"), record("b", schema_version=2), record("c")])
    (tmp_path / "notes.json").write_text("{not json")
    runset = load_runs([tmp_path])
    assert sorted(r.host for r in runset.runs) == ["a", "c"]
    reasons = {Path(r.source).name: r.reason for r in runset.rejected}
    assert reasons["00001.json"].startswith("records from an unknown schema version (2")
    assert reasons["notes.json"].startswith("not JSON")
    assert [r.host for r in runset.rejected if r.host] == ["b"]


def test_failed_runs_are_set_aside_with_their_error() -> None:
    with pytest.raises(RecordError, match="run failed: boom"):
        audit_run_from_record(record("a", state="failed"), "x.json")


def test_host_identity_order_host_id_then_label_then_hostname() -> None:
    assert audit_run_from_record(record("top", host_in="top"), "x").host == "top"
    assert audit_run_from_record(record("lab", host_in="label"), "x").host == "lab"
    assert audit_run_from_record(record("hn"), "x").host == "hn"
    nameless = record("x")
    del nameless["environment"]["host"]["hostname"]
    with pytest.raises(RecordError, match="no host identity"):
        audit_run_from_record(nameless, "x")


def test_headline_domain_follows_the_device_the_run_used() -> None:
    two_gpus = record("g", device_id=1, power={"gpu-board:0": (100.0, 120.0), "gpu-board:1": (300.0, 330.0),
                                                 "cpu-package": (80.0, 90.0)})
    run = audit_run_from_record(two_gpus, "x")
    assert run.headline_domain == "gpu-board:1"
    assert run.power_w("gpu-board") == 400.0  # a host's GPUs add up under one key
    assert run.power_w("cpu-package") == 80.0
    cpu = audit_run_from_record(record("c", provider="CPUExecutionProvider", power={"estimated": (50.0, 60.0)}), "x")
    assert cpu.headline_domain == "estimated"


def test_sweep_levels_become_runs_with_their_settings() -> None:
    levels = [record("s", rate_qps=r, tokens_per_s=100.0 * r, run_id=f"s/rate={r}") for r in (2, 4)]
    for level in levels:  # the driver writes sub-records without host or labels
        level["labels"] = {}
        del level["environment"]["host"]["hostname"]
    failed = record("s", rate_qps=8, state="failed")
    parent = record("s", labels={"rack": "r1"}, sweep=[*levels, failed])
    run = audit_run_from_record(parent, "x")
    assert [(s.setting, s.tokens_per_s, s.host, s.labels.get("rack")) for s in run.sweep] == [
        ("rate=2", 200.0, "s", "r1"), ("rate=4", 400.0, "s", "r1")]


def test_setting_names_the_power_limit_where_the_record_has_one() -> None:
    run = audit_run_from_record(record("p", scenario="concurrency", concurrency=4, power_limit_w=250.0), "x")
    assert run.setting == "concurrency=4 pl=250W"
    assert run.env.power_limit_w == 250.0
