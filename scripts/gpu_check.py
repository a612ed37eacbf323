"""The steps of scripts/gpu_check.sh that need Python, one subcommand each, and its summary.

Each step writes OUTDIR/<step>.json and prints what it found; exit 0 = ran, 3 = skipped (the last line
printed says why), anything else = failed. `summary` uses only the standard library, so it runs even
where the GPU steps could not set up their environment:

    python scripts/gpu_check.py summary OUTDIR
    $GPU_CHECK_VENV/bin/python scripts/gpu_check.py nvml-energy OUTDIR [--busy-s 10]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SKIP = 3
BENCH_MODEL = "decoder-small"


def _write(out: Path, step: str, result: dict[str, Any]) -> None:
    (out / f"{step}.json").write_text(json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1, default=str))


def _skip(reason: str) -> int:
    print(reason)
    return SKIP


# -- providers -------------------------------------------------------------------------------------
def providers(out: Path) -> int:
    """What this onnxruntime build offers and what actually runs (wattfleet's own probe)."""
    import onnxruntime as ort

    from wattfleet.agent.workloads.providers import probe_providers
    from wattfleet.agent.workloads.runners.base import versions

    probes = [{"name": p.name, "works": p.works, "detail": p.detail} for p in probe_providers()]
    _write(out, "providers", {"available": ort.get_available_providers(), "probes": probes, "versions": versions()})
    return 0 if any(p["works"] and p["name"] == "CUDAExecutionProvider" for p in probes) else 1


# -- NVML power and energy -------------------------------------------------------------------------
def _busy_session(ort: Any, size: int, chain: int) -> Any:
    """y = x @ W1 @ W2 ... (fp16, `chain` square matrices): a fixed GPU load with known work per run."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for i in range(chain):
        weight = (rng.standard_normal((size, size)) / np.sqrt(size)).astype(np.float16)
        inits.append(numpy_helper.from_array(weight, f"w{i}"))
        out = "y" if i == chain - 1 else f"h{i}"
        nodes.append(helper.make_node("MatMul", [prev, f"w{i}"], [out]))
        prev = out
    graph = helper.make_graph(nodes, "busy", [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [size, size])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [size, size])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    session = ort.InferenceSession(model.SerializeToString(), providers=["CUDAExecutionProvider"])
    if session.get_providers()[0] != "CUDAExecutionProvider":
        raise RuntimeError(f"the busy loop did not get the CUDA provider (got {session.get_providers()})")
    return session


def nvml_energy(out: Path, busy_s: float, idle_s: float) -> int:
    """The sampler's NVML energy counter against its integral of instant power over a fixed GPU load."""
    import dataclasses

    import numpy as np
    import onnxruntime as ort

    from wattfleet.agent.telemetry import Sampler, energy_from_samples
    from wattfleet.agent.telemetry.nvml import NvmlSource

    source = NvmlSource(indices=[0])
    domain = "gpu-board:0"
    if domain not in source.domains:
        return _skip(f"NVML reports no power for gpu:0 ({source.detail})")
    size, chain = 8192, 8
    session = _busy_session(ort, size, chain)
    x = ort.OrtValue.ortvalue_from_numpy(np.ones((size, size), dtype=np.float16), "cuda", 0)
    binding = session.io_binding()
    binding.bind_ortvalue_input("x", x)
    binding.bind_output("y", "cuda", 0)
    session.run_with_iobinding(binding)  # warm: kernel selection and allocation outside the window
    sampler = Sampler([source], rate_hz=50.0).start()
    try:
        time.sleep(idle_s)
        i0 = time.monotonic_ns()
        time.sleep(idle_s)
        t0 = time.monotonic_ns()
        runs = 0
        while time.monotonic_ns() - t0 < busy_s * 1e9:
            session.run_with_iobinding(binding)
            runs += 1
        t1 = time.monotonic_ns()
        time.sleep(0.3)  # let the last counter update land after the window
    finally:
        sampler.stop()
        source.close()
    samples = [s for s in sampler.samples_after(0) if s.domain == domain]
    counter = energy_from_samples(samples, t0, t1)[domain]
    integral = energy_from_samples([dataclasses.replace(s, energy_j=None) for s in samples], t0, t1)[domain]
    idle = energy_from_samples([dataclasses.replace(s, energy_j=None) for s in samples], i0, t0)[domain]
    inside = [s for s in samples if t0 <= s.t_ns <= t1 and s.energy_j is not None]
    steps = [b.t_ns - a.t_ns for a, b in itertools.pairwise(inside) if b.energy_j != a.energy_j]
    duration_s = (t1 - t0) / 1e9
    flops = 2.0 * size**3 * chain * runs
    result = {
        "source": source.detail, "sample_rate_hz": 50.0, "samples_in_window": len(inside),
        "busy_s": duration_s, "busy_runs": runs, "busy_tflops": flops / duration_s / 1e12,
        "energy_counter_j": counter.energy_j, "counter_method": counter.method,
        "energy_integral_j": integral.energy_j, "integral_method": integral.method,
        "integral_minus_counter_pct": (100.0 * (integral.energy_j - counter.energy_j) / counter.energy_j
                                       if counter.energy_j and integral.energy_j is not None else None),
        "power_avg_w": counter.power_avg_w, "power_peak_w": integral.power_peak_w,
        "idle_power_w": idle.power_avg_w,
        "counter_update_interval_ms_median": statistics.median(steps) / 1e6 if steps else None,
        "low_confidence": {"counter": counter.low_confidence, "integral": integral.low_confidence},
        "notes": list(counter.notes) + list(integral.notes),
    }
    _write(out, "nvml_energy", result)
    return 0 if counter.energy_j and integral.energy_j else 1


# -- wattfleet bench on CUDA / TensorRT ------------------------------------------------------------
def record_view(path: Path) -> dict[str, Any]:
    """The few things this check reads from a run record (one adapter, so schema v2 changes one place)."""
    record = json.loads(path.read_text(encoding="utf-8"))
    env = record.get("environment", {})
    wanted = ("ttft_p50", "ttft_p99", "tpot_p50", "tpot_p99", "tokens_per_s", "tokens_per_j", "j_per_token")
    figures = {(f["name"] if f.get("domain") in (None, "") else f"{f['name']}@{f['domain']}"): f["value"]
               for f in record.get("figures", []) if f["name"] in wanted}
    return {"state": record.get("state"), "error": record.get("error", ""),
            "provider_used": env.get("provider_used"), "fell_back": env.get("fell_back"),
            "fallback_reason": env.get("fallback_reason"), "precision": env.get("precision"),
            "device": env.get("device"), "io_binding": env.get("io_binding"),
            "provider_options": env.get("provider_options", {}), "cold_start": record.get("cold_start", {}),
            "figures": figures, "valid": record.get("validity", {}).get("valid")}


def bench(out: Path, step: str, provider: str, compare: str) -> int:
    """`wattfleet bench` on a built-in decoder, the record read back: which provider really ran, TTFT/TPOT,
    and for a second TensorRT run whether the engine cache made its cold start shorter."""
    record_path = out / f"{step}-record.json"
    command = [str(Path(sys.executable).with_name("wattfleet")), "bench", "--model", BENCH_MODEL,
               "--provider", provider, "--scenario", "single-stream", "--prompt-tokens", "64",
               "--output-tokens", "32", "--warmup", "3", "--duration", "5", "--queries", "24",
               "--cache-dir", str(out / "cache"), "--out", str(record_path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    print("$", " ".join(command), "\n", done.stdout, done.stderr, sep="")
    if not record_path.is_file():
        print(f"no record written (exit {done.returncode})")
        return 1
    view = record_view(record_path)
    view["command"] = " ".join(command)
    if provider == "tensorrt":
        folder = view["provider_options"].get("TensorrtExecutionProvider", {}).get("trt_engine_cache_path", "")
        view["engine_files"] = sorted(p.name for p in Path(folder).glob("*")) if folder else []
    if compare:
        first = json.loads((out / f"{compare}.json").read_text(encoding="utf-8"))
        before = first.get("cold_start", {}).get("session_build_s")
        after = view["cold_start"].get("session_build_s")
        view["compared_with"] = compare
        view["session_build_s_first_then_this"] = [before, after]
        view["engine_cache_reused"] = bool(before and after is not None and after < 0.5 * before)
    _write(out, step, view)
    expected = {"cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}[provider]
    return 0 if view["state"] == "completed" and view["provider_used"] == expected else 1


# -- IOBinding with the KV cache on the device -----------------------------------------------------
def iobinding(out: Path) -> int:
    """The same CUDA session decoding with the KV cache bound on the device and with it copied through the
    host each step: tokens equal, per-token time of each, and where the present tensors live."""
    import numpy as np
    import onnxruntime as ort

    from wattfleet.agent.workloads.config import ModelConfig, RuntimeConfig
    from wattfleet.agent.workloads.quality import token_agreement
    from wattfleet.agent.workloads.runners import open_runner

    cache = out / "cache"
    runner = open_runner(ModelConfig(builtin=BENCH_MODEL), RuntimeConfig(provider="cuda"), cache_dir=cache)
    if runner.provider_used != "CUDAExecutionProvider" or runner.loop.device != "cuda":
        print(f"the runner did not bind to CUDA (provider {runner.provider_used}, device {runner.loop.device!r})")
        return 1
    loop = runner.loop
    prompts = runner.make_prompts(4, 64, seed=0)
    # Where the cache lives: one bound step, made as the loop makes it.
    session = runner.session
    binding = session.io_binding()
    for name, value in loop._step_feeds(np.asarray(prompts, dtype=np.int64), 0).items():
        binding.bind_cpu_input(name, value)
    empty = np.zeros((4, runner.layout.kv_heads, 0, runner.layout.head_dim), dtype=runner.layout.dtype)
    for name in loop.past_names:
        binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(empty, "cuda", 0))
    binding.bind_output("logits", "cpu")
    for name in loop.present_names:
        binding.bind_output(name, "cuda", 0)
    session.run_with_iobinding(binding)
    devices = sorted({value.device_name().lower() for value in binding.get_outputs()[1:]})

    def timed(device: str) -> tuple[list[list[int]], float]:
        loop.device = device
        stamps: list[int] = []

        def on_token(b: int, k: int, t_ns: int) -> None:
            if b == 0:
                stamps.append(t_ns)

        tokens = runner.generate(prompts, 64, on_token=on_token)
        return tokens, statistics.median((b - a) / 1e6 for a, b in itertools.pairwise(stamps))

    timed("cuda")  # warm
    bound, bound_ms = timed("cuda")
    plain, plain_ms = timed("")
    loop.device = "cuda"
    cpu = open_runner(ModelConfig(builtin=BENCH_MODEL), RuntimeConfig(provider="cpu"), cache_dir=cache)
    same, _ = token_agreement(bound, cpu.generate(prompts, 64))
    result = {"model": BENCH_MODEL, "batch": 4, "new_tokens": 64, "present_tensors_on": devices,
              "tpot_ms_median_kv_on_device": bound_ms, "tpot_ms_median_kv_through_host": plain_ms,
              "tokens_equal_bound_vs_host": bound == plain, "token_agreement_with_cpu": same}
    _write(out, "iobinding", result)
    return 0 if devices == ["cuda"] and bound == plain else 1


# -- the native TensorRT runner --------------------------------------------------------------------
def trt_native(out: Path) -> int:
    """A fixed-shape built-in through the tensorrt wheel: engine built, then reused; answers against CPU."""
    try:
        import tensorrt  # noqa: F401
    except ImportError as exc:
        return _skip(f"the tensorrt wheel is absent ({exc}); `pip install 'wattfleet[tensorrt]'` adds it")
    from wattfleet.agent.workloads.config import ModelConfig, RuntimeConfig
    from wattfleet.agent.workloads.quality import tensor_agreement
    from wattfleet.agent.workloads.runners import open_runner

    model = ModelConfig(builtin="cnn-squeezenet")
    native = RuntimeConfig(provider="tensorrt-native", cache_dir=str(out / "cache"))
    first = open_runner(model, native, cache_dir=out / "cache")
    first_cold, first_hit = first.cold_start.to_dict(), first.engine_cache_hit
    first.close()
    runner = open_runner(model, native, cache_dir=out / "cache")
    cpu = open_runner(model, RuntimeConfig(provider="cpu"), cache_dir=out / "cache")
    feeds = cpu.input_batch(1)
    agreement = tensor_agreement(runner.run_feeds(feeds), cpu.run_feeds(feeds))
    t0 = time.perf_counter()
    for _ in range(100):
        runner.infer(1)
    latency_ms = (time.perf_counter() - t0) * 10
    result = {"model": "cnn-squeezenet", "engine": str(runner.engine_file),
              "first_open": {"engine_cache_hit": first_hit, "cold_start": first_cold},
              "second_open": {"engine_cache_hit": runner.engine_cache_hit, "cold_start": runner.cold_start.to_dict()},
              "agreement_with_cpu": agreement, "mean_latency_ms_batch1": latency_ms}
    _write(out, "trt_native", result)
    return 0 if runner.engine_cache_hit and not first_hit and agreement["cosine"] > 0.99 else 1


# -- summary ---------------------------------------------------------------------------------------
def summary(out: Path) -> int:
    """summary.json and summary.md from steps.tsv (name, status, seconds, what) and each step's JSON."""
    steps = []
    tsv = out / "steps.tsv"
    for line in tsv.read_text(encoding="utf-8").splitlines() if tsv.is_file() else []:
        name, status, seconds, what, *_ = [*line.split("\t"), "", "", ""]
        result_file = out / f"{name}.json"
        result = json.loads(result_file.read_text(encoding="utf-8")) if result_file.is_file() else None
        steps.append({"step": name, "status": status, "seconds": int(seconds or 0), "what": what,
                      "log": f"{name}.log" if (out / f"{name}.log").is_file() else "", "result": result})
    meta_file = out / "meta.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
    meta.setdefault("python", platform.python_version())
    doc = {"meta": meta, "steps": steps}
    (out / "summary.json").write_text(json.dumps(doc, indent=1, default=str) + "\n", encoding="utf-8")
    lines = ["# wattfleet GPU check", "", *(f"- {k}: {v}" for k, v in meta.items()), "",
             "| step | status | s | what |", "|---|---|---|---|"]
    lines += [f"| {s['step']} | {s['status']} | {s['seconds']} | {s['what']} |" for s in steps]
    for s in steps:
        if s["result"]:
            lines += ["", f"## {s['step']}", "", "```json", json.dumps(s["result"], indent=1, default=str), "```"]
    lines += ["", "Logs: <step>.log beside this file. Record what this showed in docs/HARDWARE.md with the "
              "date and the GPU (see its 'GPU check' section)."]
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"summary: {out / 'summary.md'}")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=["providers", "nvml-energy", "bench", "iobinding", "trt-native", "summary"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--name", default="", help="bench: the step name (record and result files)")
    parser.add_argument("--provider", default="cuda", help="bench: cuda or tensorrt")
    parser.add_argument("--compare", default="", help="bench: an earlier bench step to compare cold start with")
    parser.add_argument("--busy-s", type=float, default=10.0)
    parser.add_argument("--idle-s", type=float, default=1.0)
    args = parser.parse_args(argv)
    out = args.out.resolve()
    os.makedirs(out, exist_ok=True)
    if args.step == "summary":
        return summary(out)
    if args.step == "providers":
        return providers(out)
    if args.step == "nvml-energy":
        return nvml_energy(out, args.busy_s, args.idle_s)
    if args.step == "bench":
        return bench(out, args.name or f"bench_{args.provider}", args.provider, args.compare)
    if args.step == "iobinding":
        return iobinding(out)
    return trt_native(out)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
