"""scripts/gpu_check.sh where there is no GPU: it parses, passes shellcheck, writes its summary with every
step "skipped: no NVIDIA GPU", and records each step's own outcome (ok, failed, skipped, out of time)
when a stand-in nvidia-smi and Python take the place of the GPU host's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "gpu_check.sh"
STEPS = ["nvidia_smi", "setup", "providers", "nvml_energy", "bench_cuda", "bench_tensorrt_1", "bench_tensorrt_2",
         "iobinding", "trt_native"]


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHON": sys.executable, **env}, check=False)


def _statuses(out: Path) -> dict[str, str]:
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return {s["step"]: s["status"] for s in summary["steps"]}


def test_the_script_parses_and_passes_shellcheck() -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)], check=False).returncode == 0
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed here (Debian package `shellcheck`)")
    done = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout


def test_without_a_gpu_every_step_is_skipped_and_the_summary_is_written(tmp_path: Path) -> None:
    out, venv = tmp_path / "out", tmp_path / "venv"
    done = _run(str(out), NVIDIA_SMI=str(tmp_path / "no-nvidia-smi"), GPU_CHECK_VENV=str(venv))
    assert done.returncode == 0, done.stderr
    assert _statuses(out) == dict.fromkeys(STEPS, "skipped: no NVIDIA GPU")
    meta = json.loads((out / "summary.json").read_text(encoding="utf-8"))["meta"]
    assert meta["no_gpu_because"] == f"{tmp_path / 'no-nvidia-smi'} not found" and meta["gpus"] == []
    assert "| bench_tensorrt_2 | skipped: no NVIDIA GPU |" in (out / "summary.md").read_text(encoding="utf-8")
    assert not venv.exists()  # nothing was installed


def _stub(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    path.chmod(0o755)
    return path


def test_nvidia_smi_that_finds_no_gpu(tmp_path: Path) -> None:
    smi = _stub(tmp_path / "nvidia-smi", 'echo "No devices were found"; exit 6\n')
    done = _run(str(tmp_path / "out"), NVIDIA_SMI=str(smi))
    assert done.returncode == 0
    assert set(_statuses(tmp_path / "out").values()) == {"skipped: no NVIDIA GPU"}


def test_dry_run_lists_the_plan(tmp_path: Path) -> None:
    done = _run(str(tmp_path / "out"), "--dry-run", NVIDIA_SMI=str(tmp_path / "none"))
    assert done.returncode == 0
    assert _statuses(tmp_path / "out") == dict.fromkeys(STEPS, "skipped: dry run")


def test_each_step_keeps_its_own_outcome(tmp_path: Path) -> None:
    """A stand-in GPU host: nvidia-smi lists one GPU; the venv's python answers each step differently."""
    smi = _stub(tmp_path / "nvidia-smi", 'if [ "$1" = "-L" ]; then echo "GPU 0: Stand-in (UUID: GPU-0)"; fi\n')
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    _stub(venv / "bin" / "python", """case "$*" in
  *nvml-energy*) echo "NVML said no"; exit 1 ;;
  *trt-native*) echo "the tensorrt wheel is absent"; exit 3 ;;
  *) exit 0 ;;
esac
""")
    out = tmp_path / "out"
    done = _run(str(out), NVIDIA_SMI=str(smi), GPU_CHECK_VENV=str(venv))
    assert done.returncode == 1  # one step failed; the others still ran
    statuses = _statuses(out)
    assert statuses["nvml_energy"] == "failed: exit 1: NVML said no (see nvml_energy.log)"
    assert statuses["trt_native"] == "skipped: the tensorrt wheel is absent"
    assert [statuses[s] for s in STEPS if s not in ("nvml_energy", "trt_native")] == ["ok"] * 7
    late = _run(str(tmp_path / "late"), NVIDIA_SMI=str(smi), GPU_CHECK_VENV=str(venv),
                GPU_CHECK_BUDGET_S="0")
    assert late.returncode == 0 and set(_statuses(tmp_path / "late").values()) == {"skipped: out of time (budget 0 s)"}


def test_bad_arguments_exit_2() -> None:
    assert _run().returncode == 2
    done = _run("a", "b")
    assert done.returncode == 2 and "one OUTDIR only" in done.stderr
    assert _run("--frobnicate", "a").returncode == 2
