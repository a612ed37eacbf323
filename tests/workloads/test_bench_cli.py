"""`wattfleet bench` end to end through a subprocess: the record it writes, its summary and its errors."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wattfleet.agent.workloads.cli import Progress
from wattfleet.core.model import RunRecord

WATTFLEET = str(Path(sys.executable).parent / "wattfleet")


def _bench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WATTFLEET, "bench", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def test_smoke_profile_writes_a_record(tmp_path: Path, cache: Path) -> None:
    out = tmp_path / "smoke.json"
    proc = _bench("smoke", "--out", str(out), "--cache-dir", str(cache), "--no-energy", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    record = RunRecord.from_dict(json.loads(out.read_text()))
    assert record.state == "completed" and record.profile["name"] == "smoke"
    assert 'builtin = "decoder-tiny"' in record.profile_text
    measured = [r for r in record.queries if not r.warmup]
    assert len(measured) >= 8 and all(r.n_out == 8 for r in measured)
    assert record.figure("tokens_per_s") is not None and record.figure("tpot_p99") is not None
    assert record.environment["provider_used"] == "CPUExecutionProvider"
    w = record.window
    assert w.measured and w.anchor_unix_ns > 0 and w.anchor_mono_ns <= w.t0_ns < w.t1_ns
    raw = json.loads(out.read_text())
    assert raw["schema_version"] == 2 and set(raw["window"]) >= {"t0_ns", "t1_ns", "anchor_unix_ns", "anchor_mono_ns"}
    # the summary a person reads: figures with units and definitions, provider, validity, cold start
    for needle in ("tokens_per_s", "tok/s", "MLPerf LoadGen", "CPUExecutionProvider", "validity", "cold start"):
        assert needle in proc.stdout
    assert f"record: {out}" in proc.stderr and "measuring" in proc.stderr


def test_model_flags_json_and_energy_domain(tmp_path: Path, cache: Path) -> None:
    proc = _bench("--model", "cnn-squeezenet", "--scenario", "offline", "--duration", "0.1", "--queries", "3",
                  "--warmup", "1", "--threads", "1", "--json", "--idle-s", "0.6", "--out", str(tmp_path / "r.json"),
                  "--cache-dir", str(cache), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["profile"]["model"]["builtin"] == "cnn-squeezenet" and data["profile"]["load"]["scenario"] == "offline"
    names = {f["name"] for f in data["figures"]}
    assert "samples_per_s" in names and "tokens_per_s" not in names
    energy = [f for f in data["figures"] if f["domain"]]
    if energy:  # on a host without RAPL or NVML only the estimate exists, and it is labelled so
        assert all(f["domain"] for f in energy) and data["energy"]
        assert "idle_power_w" in {f["name"] for f in energy}  # measured before the run, shown beside
        assert "samples_per_s" in proc.stderr  # the summary went to stderr
    assert json.loads((tmp_path / "r.json").read_text())["run_id"] == data["run_id"]


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (("smoke", "--set", "load.rate=-1"), 2, "load.rate: expected a number > 0, got -1"),
        (("smoke", "--set", "load.colour=red"), 2, "unknown key 'load.colour'"),
        (("no-such-profile",), 2, "no profile 'no-such-profile'"),
        (("--model", "missing.onnx"), 2, "--model missing.onnx: no such file"),
        (("smoke", "--scenario", "burst"), 2, "invalid choice: 'burst'"),
        (("smoke", "--out", "absent/r.json"), 2, "--out absent: no such folder; create it"),
        (("smoke", "--out", "absent/"), 2, "--out absent: no such folder; create it"),
    ],
)
def test_errors_are_one_line(tmp_path: Path, args: tuple[str, ...], code: int, needle: str) -> None:
    proc = _bench(*args, cwd=tmp_path)
    assert proc.returncode == code
    assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not list(tmp_path.glob("*.json"))


def test_unavailable_provider_fails_the_run_with_a_record(tmp_path: Path, cache: Path) -> None:
    proc = _bench("smoke", "--provider", "cuda", "--cache-dir", str(cache), "--no-energy", cwd=tmp_path)
    assert proc.returncode == 1
    assert "fallback" in proc.stderr.splitlines()[-1]
    (written,) = tmp_path.glob("wattfleet-smoke-*.json")
    assert json.loads(written.read_text())["state"] == "failed"


def test_list_names_every_builtin_profile(tmp_path: Path) -> None:
    proc = _bench("--list", cwd=tmp_path)
    assert proc.returncode == 0
    assert {line.split()[0] for line in proc.stdout.splitlines()} >= {"smoke", "decoder-server-poisson"}


def test_model_file_path(tmp_path: Path, cache: Path) -> None:
    from wattfleet.agent.workloads.models import builtin_model_path

    model = tmp_path / "models" / "mine.onnx"
    model.parent.mkdir()
    model.write_bytes(builtin_model_path("decoder-tiny", cache).read_bytes())
    proc = _bench("--model", str(model), "--duration", "0.05", "--queries", "3", "--output-tokens", "3",
                  "--prompt-tokens", "4", "--set", "load.target_latency_percentile=0", "--no-energy", "--json",
                  cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["profile"]["name"] == "bench-mine" and data["profile"]["model"]["path"] == str(model)
    assert data["environment"]["model"]["path"] == str(model)
    assert all(r["n_out"] == 3 for r in data["queries"])


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_one_updating_line_on_a_terminal() -> None:
    tty, pipe = _Tty(), io.StringIO()
    for stream in (tty, pipe):
        p = Progress(stream, interval_s=0.0)
        p.on_phase("measuring")
        for i in range(3):
            p.on_progress(i / 2, i, 10 * i, 0.1 * i)
        p.on_phase("completed")
    assert tty.getvalue().count("\n") == 1 and tty.getvalue().count("\r") == 4
    assert "100%" in tty.getvalue() and "20 tokens" in tty.getvalue()
    assert pipe.getvalue().count("\n") == 5 and "\r" not in pipe.getvalue()


def test_profile_file_finds_its_model_beside_it(tmp_path: Path, cache: Path) -> None:
    from wattfleet.agent.workloads.models import builtin_model_path

    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "tiny.onnx").write_bytes(builtin_model_path("decoder-tiny", cache).read_bytes())
    (folder / "local.toml").write_text('name = "local"\n[model]\npath = "tiny.onnx"\n[load]\n'
                                       "min_duration_s = 0.05\nmin_queries = 2\noutput_tokens = 2\n"
                                       "target_latency_percentile = 0\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = _bench(str(folder / "local.toml"), "--no-energy", "--json", "--out", "r.json", cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["environment"]["model"]["path"] == str(folder / "tiny.onnx")
    assert data["profile_text"].startswith('name = "local"')


def _bench_until(args: list[str], cwd: Path, needle: str) -> subprocess.Popen[str]:
    """Start `wattfleet bench`, return once its progress on stderr shows `needle`."""
    proc = subprocess.Popen([WATTFLEET, "bench", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if needle in line:
            return proc
    proc.wait(timeout=60)
    raise AssertionError(f"bench exited with {proc.returncode} before reporting {needle!r}")


LONG_TINY = ["smoke", "--no-energy", "--set", "load.min_duration_s=30", "--set", "load.min_queries=100000",
             "--set", "load.max_duration_s=60", "--set", "load.warmup_queries=0"]


def test_ctrl_c_ends_with_130_and_a_cancelled_record_every_time(tmp_path: Path, cache: Path) -> None:
    outcomes = []
    for i in range(20):
        out = tmp_path / f"r{i}.json"
        proc = _bench_until([*LONG_TINY, "--cache-dir", str(cache), "--out", str(out)], tmp_path, "measuring")
        time.sleep((i % 4) * 0.05)  # land in different places: between queries, inside ONNX Runtime
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
        state = json.loads(out.read_text())["state"] if out.exists() else None
        outcomes.append((proc.returncode, state))
        assert (proc.returncode, state) == (130, "cancelled"), f"try {i}: {outcomes}\n{err[-2000:]}"
        assert "terminate called" not in err and f"record: {out}" in err
    assert outcomes == [(130, "cancelled")] * 20


def test_an_existing_record_is_never_overwritten(tmp_path: Path, cache: Path) -> None:
    out = tmp_path / "r.json"
    out.write_text("an earlier run's record")
    proc = _bench("smoke", "--out", str(out), "--cache-dir", str(cache), "--no-energy",
                  "--set", "load.min_duration_s=0.05", "--set", "load.min_queries=2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == "an earlier run's record"
    assert json.loads((tmp_path / "r-1.json").read_text())["state"] == "completed"
    assert f"record: {tmp_path / 'r-1.json'}" in proc.stderr
    proc = _bench("smoke", "--out", str(tmp_path), "--cache-dir", str(cache), "--no-energy",  # a folder
                  "--set", "load.min_duration_s=0.05", "--set", "load.min_queries=2", cwd=tmp_path / "..")
    assert proc.returncode == 0, proc.stderr
    assert len(list(tmp_path.glob("wattfleet-smoke-*.json"))) == 1


def test_a_record_whose_folder_vanished_is_written_in_the_working_directory(tmp_path: Path, cache: Path) -> None:
    folder = tmp_path / "records"
    folder.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    proc = _bench_until(["smoke", "--no-energy", "--cache-dir", str(cache), "--out", str(folder / "r.json"),
                         "--set", "load.min_duration_s=0.5"], work, "measuring")
    os.rmdir(folder)  # removed while the run measures
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads((work / "r.json").read_text())["state"] == "completed"
    assert (f"could not write the record to {folder}: No such file or directory; wrote it to {work / 'r.json'} "
            "instead") in err
    assert f"record: {work / 'r.json'}" in err
