"""The record adapter: a real `wattfleet bench` record, synthetic ones of schema 2 and 1, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.audit.synth import record, write
from wattfleet.core.model import RunRecord
from wattfleet.tui.fleet.audit import audit_run_from_record, load_runs
from wattfleet.tui.fleet.audit.records import RecordError, runs_from_records


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
    assert raw["schema_version"] == 2  # what the current code writes is the audit's main input
    runset = load_runs([smoke_record])
    assert runset.rejected == ()
    (run,) = runset.runs
    figures = {(f["name"], f["domain"]): f["value"] for f in raw["figures"]}
    assert run.host == raw["host_id"] and run.schema_version == 2
    assert run.profile == "smoke" and run.setting == "single-stream"
    assert run.tokens_per_s == figures[("tokens_per_s", "")]
    assert run.ttft_p99_ms == figures[("ttft_p99", "")]
    assert run.duration_s == pytest.approx(raw["window"]["duration_s"])
    assert run.valid is raw["validity"]["valid"]
    assert run.env.provider == raw["environment"]["provider_used"]
    assert run.env.device_model == raw["environment"]["device"]["name"]
    assert run.headline_domain == raw["headline_domain"]
    for entry in raw["energy"]:
        dom = run.domains[entry["domain"]]
        assert (dom.power_avg_w, dom.power_peak_w, dom.energy_j) == (
            entry["power_avg_w"], entry["power_peak_w"], entry["energy_j"])
        assert (dom.shared, dom.low_confidence, dom.kind) == (entry["shared"], entry["low_confidence"], entry["kind"])
        assert dom.tokens_per_j == figures[("tokens_per_j", entry["domain"])]


def test_synthetic_records_have_the_real_record_keys(smoke_record: Path) -> None:
    raw = json.loads(smoke_record.read_text())
    synth = record("h1")
    assert set(synth) == set(raw)
    assert set(synth["environment"]) <= set(raw["environment"])
    assert set(synth["energy"][0]) == set(raw["energy"][0])
    real_fig = next(f for f in raw["figures"] if f["name"] == "tokens_per_s")
    assert set(synth["figures"][0]) == set(real_fig)
    v1 = record("h1", schema_version=1)
    assert RunRecord.from_dict(v1).schema_version == 1  # core reads the older shape too


def test_schema_1_reads_as_the_same_run_as_schema_2() -> None:
    kw = {"power": {"gpu-board:0": (300.0, 350.0), "cpu-package": (90.0, 100.0)}, "labels": {"rack": "r1"},
          "power_limit_w": 400.0, "throttle": ("sw_power_cap",), "duration_s": 12.0, "tokens_per_s": 777.0}
    v1 = audit_run_from_record(record("h", schema_version=1, **kw), "a.json")  # type: ignore[arg-type]
    v2 = audit_run_from_record(record("h", **kw), "b.json")  # type: ignore[arg-type]
    assert (v1.schema_version, v2.schema_version) == (1, 2)
    for field in ("host", "profile", "setting", "valid", "labels", "duration_s", "tokens_per_s", "ttft_p99_ms",
                  "tpot_p99_ms", "headline_domain", "env"):
        assert getattr(v1, field) == getattr(v2, field), field
    assert {d: (p.power_avg_w, p.power_peak_w, p.energy_j) for d, p in v1.domains.items()} == {
        d: (p.power_avg_w, p.power_peak_w, p.energy_j) for d, p in v2.domains.items()}
    assert v2.headline_domain == "gpu-board:0" and v2.setting == "rate=8 pl=400W"


def test_unknown_schema_version_is_a_reason_and_the_rest_is_read(tmp_path: Path) -> None:
    write(tmp_path, [record("a"), record("b", schema_version=3), record("c", schema_version=1), record("d")])
    weird = record("e")
    weird["schema_version"] = "2"
    (tmp_path / "weird.json").write_text(json.dumps(weird))
    (tmp_path / "notes.json").write_text("{not json")
    runset = load_runs([tmp_path])
    assert sorted(r.host for r in runset.runs) == ["a", "c", "d"]
    reasons = {Path(r.source).name: r.reason for r in runset.rejected}
    assert reasons["00001.json"] == "records from an unknown schema version (3; this wattfleet reads 1, 2)"
    assert reasons["weird.json"].startswith("records from an unknown schema version ('2'")
    assert reasons["notes.json"].startswith("not JSON")
    assert sorted(r.host for r in runset.rejected if r.host) == ["b", "e"]


def test_a_malformed_record_is_a_reason() -> None:
    bad = record("a")
    bad["figures"] = [{"value": 1.0}]  # a figure without a name
    with pytest.raises(RecordError, match=r"malformed schema 2 record \(KeyError"):
        audit_run_from_record(bad, "x.json")


def test_failed_runs_are_set_aside_with_their_error() -> None:
    with pytest.raises(RecordError, match="run failed: boom"):
        audit_run_from_record(record("a", state="failed"), "x.json")


def test_host_identity_schema_2_top_then_schema_1_label_then_hostname() -> None:
    assert audit_run_from_record(record("top"), "x").host == "top"
    assert audit_run_from_record(record("lab", host_in="label", schema_version=1), "x").host == "lab"
    assert audit_run_from_record(record("hn", host_in="hostname", schema_version=1), "x").host == "hn"
    nameless = record("x")
    nameless["host_id"] = ""
    with pytest.raises(RecordError, match="no host identity"):
        audit_run_from_record(nameless, "x")


def test_headline_domain_is_the_records_own_and_schema_1_follows_the_rule() -> None:
    power = {"gpu-board:0": (100.0, 120.0), "gpu-board:1": (300.0, 330.0), "cpu-package": (80.0, 90.0)}
    two_gpus = record("g", device_id=1, power=power)
    assert two_gpus["headline_domain"] == "gpu-board:1"
    run = audit_run_from_record(two_gpus, "x")
    assert run.headline_domain == "gpu-board:1"
    assert run.power_w("gpu-board") == 400.0  # a host's GPUs add up under one key
    assert run.power_w("cpu-package") == 80.0
    assert audit_run_from_record(record("g", device_id=1, power=power, schema_version=1), "x").headline_domain == (
        "gpu-board:1")
    cpu = audit_run_from_record(record("c", provider="CPUExecutionProvider", power={"estimated": (50.0, 60.0)}), "x")
    assert cpu.headline_domain == "estimated" and cpu.domains["estimated"].estimated


def test_sweep_levels_become_runs_with_their_settings() -> None:
    levels = [record("s", rate_qps=r, tokens_per_s=100.0 * r, run_id=f"s/rate={r}") for r in (2, 4)]
    levels[0]["labels"] = {}
    failed = record("s", rate_qps=8, state="failed")
    parent = record("s", labels={"rack": "r1"}, sweep=[*levels, failed])
    run = audit_run_from_record(parent, "x")
    assert [(s.setting, s.tokens_per_s, s.host, s.labels.get("rack")) for s in run.sweep] == [
        ("rate=2", 200.0, "s", "r1"), ("rate=4", 400.0, "s", "r1")]
    assert run.levels == run.sweep and audit_run_from_record(levels[1], "x").levels[0].setting == "rate=4"


def test_setting_names_the_power_limit_the_step_ran_under() -> None:
    run = audit_run_from_record(record("p", scenario="concurrency", concurrency=4, power_limit_w=250.0), "x")
    assert run.setting == "concurrency=4 pl=250W" and run.env.power_limit_w == 250.0
    state = {"start": {"power_limit_w": 300.0, "sm_clock_mhz": 210.0, "throttle_reasons": ["gpu_idle"]},
             "end": {"power_limit_w": 200.0, "sm_clock_mhz": 1410.0, "temperature_c": 71.0,
                     "throttle_reasons": ["sw_power_cap"]}}
    run = audit_run_from_record(record("p", power_limit_w=700.0, device_state=state), "x")
    assert run.setting == "rate=8 pl=200W"  # the device state under load beats the static device entry
    assert run.env.throttle_reasons == ("gpu_idle", "sw_power_cap")  # every reason seen
    assert run.env.clocks_mhz == (("sm", 1410.0),) and run.env.temperature_c == 71.0
    step = record("p", power_limit_step_w=250.0, device_state={"end": {"power_limit_w": 249.0}})
    assert audit_run_from_record(step, "x").setting == "rate=8 pl=250W"  # the limit set, not the one read back


def test_shared_domains_contention_and_task_success_are_read() -> None:
    run = audit_run_from_record(record("h", shared=("gpu-board:0",), contended=True, success=(0.9, 0.82, 0.95),
                                       correct_per_s=9.0), "x")
    assert run.shared and run.domains["gpu-board:0"].shared and run.contended
    assert run.success is not None and (run.success.rate, run.success.ci_low, run.success.ci_high) == (
        0.9, 0.82, 0.95)
    assert run.success.scored == 100 and run.correct_per_s == 9.0
    assert run.domains["gpu-board:0"].j_per_correct == pytest.approx(300.0 / 9.0)
    from_figures = audit_run_from_record(record("h", success=(0.5, 0.4, 0.6), success_in="figures"), "x")
    assert from_figures.success is not None and from_figures.success.ci_high == 0.6
    assert audit_run_from_record(record("h"), "x").success is None


def test_run_records_a_client_holds_become_a_runset() -> None:
    ok = RunRecord.from_dict(record("live-a"))
    cancelled = RunRecord.from_dict(record("live-b", state="cancelled"))
    runset = runs_from_records([ok, cancelled], "agent")
    assert [r.host for r in runset.runs] == ["live-a"] and runset.runs[0].source == f"agent:{ok.run_id}"
    (rej,) = runset.rejected
    assert rej.host == "live-b" and rej.reason.startswith("run cancelled")
