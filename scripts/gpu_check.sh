#!/usr/bin/env bash
# Everything only an NVIDIA GPU can show, in one run of under 8 minutes, written into one folder:
#
#   scripts/gpu_check.sh OUTDIR [--dry-run]
#
# Steps (each with its own timeout; one failing never stops the others): nvidia-smi -q; a venv with
# wattfleet[agent,tensorrt]; which execution providers really run; NVML instant power and the energy
# counter against the sampler's integral over a fixed GPU load; `wattfleet bench` of a built-in decoder on
# the CUDA and TensorRT providers (TTFT/TPOT, provider read back from the record, TensorRT engine cache
# reused by a second run); IOBinding with the KV cache on the device; the native TensorRT runner.
# OUTDIR gets summary.md, summary.json, one <step>.log (and <step>.json) per step, and the run records.
# Without a GPU (no working nvidia-smi) every step is "skipped: no NVIDIA GPU" and the summary is still
# written. --dry-run writes the plan without running anything. Exit: 0 when no step failed, 1 when one
# did, 2 for bad arguments.
#
# Knobs: GPU_CHECK_VENV (default ~/.cache/wattfleet/gpu-check-venv, outside the checkout; reused when it
# already has this checkout installed), GPU_CHECK_BUDGET_S (default 450: steps that would start later are
# skipped), NVIDIA_SMI (the nvidia-smi to call), PYTHON (the python3 that makes the venv and the summary).
set -uo pipefail

usage() { echo "usage: scripts/gpu_check.sh OUTDIR [--dry-run]" >&2; exit 2; }
OUT="" DRY=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY=1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "gpu_check: unknown option $arg" >&2; usage ;;
    *) if [[ -z "$OUT" ]]; then OUT=$arg; else echo "gpu_check: one OUTDIR only (got $OUT and $arg)" >&2; usage; fi ;;
  esac
done
[[ -n "$OUT" ]] || usage
mkdir -p "$OUT" || { echo "gpu_check: cannot create $OUT" >&2; exit 1; }
OUT=$(cd "$OUT" && pwd)
REPO=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
NVIDIA_SMI=${NVIDIA_SMI:-nvidia-smi}
VENV=${GPU_CHECK_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/wattfleet/gpu-check-venv}
VPY="$VENV/bin/python"
BUDGET_S=${GPU_CHECK_BUDGET_S:-450}
HELPER="$REPO/scripts/gpu_check.py"
START=$SECONDS
SKIP_ALL=""  # when set, every remaining step is skipped with this status
: > "$OUT/steps.tsv"

record() {  # name, status, seconds, what (tabs and newlines become spaces: one line per step)
  local status=${2//[$'\t\n']/ } what=${4//[$'\t\n']/ }
  printf '%s\t%s\t%s\t%s\n' "$1" "$status" "$3" "$what" >> "$OUT/steps.tsv"
}

# step NAME TIMEOUT_S "WHAT" COMMAND... : runs COMMAND under a timeout, logs to NAME.log, records a status.
# Exit 3 from a command means "skipped", its last output line saying why.
FAILED=0
step() {
  local name=$1 limit=$2 what=$3
  shift 3
  if [[ -n "$SKIP_ALL" ]]; then record "$name" "skipped: $SKIP_ALL" 0 "$what"; return 0; fi
  if (( DRY )); then record "$name" "skipped: dry run" 0 "$what: $*"; return 0; fi
  local left=$(( BUDGET_S - (SECONDS - START) ))
  if (( left < 20 )); then record "$name" "skipped: out of time (budget ${BUDGET_S} s)" 0 "$what"; return 0; fi
  (( limit > left )) && limit=$left
  local t0=$SECONDS rc status
  echo "gpu_check: $name (up to ${limit} s): $what" >&2
  timeout --kill-after=10 "$limit" "$@" > "$OUT/$name.log" 2>&1
  rc=$?
  case $rc in
    0) status="ok" ;;
    3) status="skipped: $(tail -n 1 "$OUT/$name.log")" ;;
    124|137) status="failed: timed out after ${limit} s"; FAILED=1 ;;
    *) status="failed: exit $rc: $(tail -n 1 "$OUT/$name.log" | cut -c1-200) (see $name.log)"; FAILED=1 ;;
  esac
  record "$name" "$status" $(( SECONDS - t0 )) "$what"
  return 0
}

# -- is there a GPU? --------------------------------------------------------------------------------------
GPUS=""
if ! command -v "$NVIDIA_SMI" > /dev/null 2>&1; then
  SKIP_ALL="no NVIDIA GPU"; WHY="$NVIDIA_SMI not found"
elif ! GPUS=$("$NVIDIA_SMI" -L 2>&1) || ! grep -q '^GPU ' <<< "$GPUS"; then
  SKIP_ALL="no NVIDIA GPU"; WHY="nvidia-smi -L: $(head -n 1 <<< "$GPUS")"
else
  WHY=""
fi
(( DRY )) && SKIP_ALL=""  # a dry run lists the plan whatever the host

write_meta() {
  "$PYTHON" - "$OUT/meta.json" "$REPO" "$WHY" "$GPUS" "$DRY" "$BUDGET_S" <<'PY'
import json, platform, subprocess, sys, time
out, repo, why, gpus, dry, budget = sys.argv[1:7]
commit = subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
meta = {"date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "host": platform.node(),
        "gpus": gpus.strip().splitlines(), "commit": commit, "dry_run": dry == "1", "budget_s": int(budget)}
if why:
    meta["no_gpu_because"] = why
json.dump(meta, open(out, "w"), indent=1)
PY
}
write_meta

# -- the steps --------------------------------------------------------------------------------------------
# shellcheck disable=SC2016  # $1 and $2 expand in the inner shell
step nvidia_smi 30 "nvidia-smi -q (driver, power limits, clocks, ECC) into nvidia-smi-q.txt" \
  bash -c '"$1" -q > "$2/nvidia-smi-q.txt" && "$1" --format=csv \
    --query-gpu=name,driver_version,power.draw,power.limit,clocks.sm' _ "$NVIDIA_SMI" "$OUT"

# shellcheck disable=SC2317  # run by `bash -c setup_venv` under the step's timeout
setup_venv() {
  set -x
  if [[ ! -x "$VPY" ]]; then
    # System site packages: a host without internet may already have onnxruntime-gpu and tensorrt.
    "$PYTHON" -m venv --system-site-packages "$VENV" || return 1
  fi
  if "$VPY" -c "import sys, onnxruntime, wattfleet.agent as a; sys.exit(not a.__path__[0].startswith(sys.argv[1]))" \
      "$REPO" 2>/dev/null; then
    echo "reusing $VENV (wattfleet from $REPO already installed)"
  else
    local pip=("$VPY" -m pip install --disable-pip-version-check --retries 1 --timeout 20)
    "${pip[@]}" -e "${REPO}[agent,tensorrt]" \
      || "${pip[@]}" -e "${REPO}[agent]" \
      || "${pip[@]}" --no-deps --no-build-isolation -e "$REPO" \
      || return 1
  fi
  "$VPY" -c "import onnxruntime as o; print('onnxruntime', o.__version__, o.get_available_providers())" || return 1
  if ! "$VPY" -c "import sys, glob, site; sys.exit(not any(glob.glob(r + '/nvidia/*') for r in site.getsitepackages()))"; then
    # No CUDA/cuDNN wheels: a host without a system CUDA toolkit needs them (best effort; several GB).
    "$VPY" -m pip install --disable-pip-version-check --retries 1 --timeout 20 "onnxruntime-gpu[cuda,cudnn]" \
      || echo "could not add the CUDA/cuDNN wheels; the CUDA steps need a system CUDA then"
  fi
  "$VPY" -c "import tensorrt as t; print('tensorrt', t.__version__)" || echo "tensorrt: not installed (the native step will skip)"
}
export -f setup_venv
export VENV VPY PYTHON REPO
step setup 240 "venv $VENV with wattfleet[agent,tensorrt] (tensorrt may be missing)" bash -c setup_venv
if [[ -z "$SKIP_ALL" ]] && (( ! DRY )) && ! [[ -x "$VPY" ]]; then SKIP_ALL="no Python environment (see setup.log)"; fi

# CUDA, cuDNN and TensorRT libraries that came as wheels (nvidia-*-cu12, tensorrt_libs) go on the loader path.
if [[ -z "$SKIP_ALL" ]] && (( ! DRY )); then
  LIBS=$("$VPY" - <<'PY' 2>/dev/null
import glob, os, site
roots = site.getsitepackages() + [site.getusersitepackages()]
dirs = [d for r in roots for d in glob.glob(os.path.join(r, "nvidia", "**", "lib"), recursive=True)
        + glob.glob(os.path.join(r, "tensorrt_libs"))]
print(":".join(sorted(set(dirs))))
PY
  )
  [[ -n "$LIBS" ]] && export LD_LIBRARY_PATH="$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}" >> "$OUT/setup.log" 2>/dev/null
fi

step providers 60 "execution providers this onnxruntime offers, and which run (wattfleet's probe)" \
  "$VPY" "$HELPER" providers "$OUT"
step nvml_energy 60 "NVML instant power and energy counter vs the sampler's integral, 10 s fp16 MatMul load" \
  "$VPY" "$HELPER" nvml-energy "$OUT" --busy-s 10
step bench_cuda 90 "wattfleet bench decoder-small on CUDA: TTFT/TPOT, provider read back from the record" \
  "$VPY" "$HELPER" bench "$OUT" --name bench_cuda --provider cuda
step bench_tensorrt_1 150 "wattfleet bench decoder-small on the TensorRT EP, first run (builds the engine)" \
  "$VPY" "$HELPER" bench "$OUT" --name bench_tensorrt_1 --provider tensorrt
step bench_tensorrt_2 90 "the same again: the engine cache should make session_build_s much shorter" \
  "$VPY" "$HELPER" bench "$OUT" --name bench_tensorrt_2 --provider tensorrt --compare bench_tensorrt_1
step iobinding 60 "IOBinding: KV cache on the device vs through the host, same CUDA session" \
  "$VPY" "$HELPER" iobinding "$OUT"
step trt_native 120 "native TensorRT runner (tensorrt wheel): engine built, reused, answers vs CPU" \
  "$VPY" "$HELPER" trt-native "$OUT"

"$PYTHON" "$HELPER" summary "$OUT" > /dev/null || { echo "gpu_check: could not write the summary" >&2; exit 1; }
echo "gpu_check: $(( SECONDS - START )) s; summary in $OUT/summary.md" >&2
exit "$FAILED"
