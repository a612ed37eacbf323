"""What MLPerf LoadGen costs as the query issuer: the same single-stream load on the same runner, issued
by our scenario driver (harness "native") and by LoadGen (harness "loadgen"), interleaved block by block
(the order flips each pair).

Per arm: output tokens/s over first issue to last completion, and the median per-query latency from our
own timings (completion - the moment the query reached our code); for the LoadGen arm also LoadGen's own
median sample latency (from its clock, which starts before our code sees the query). Ratios native /
loadgen for tokens/s (> 1: LoadGen is slower) and loadgen / native for latency.

    .venv/bin/python bench/loadgen_overhead.py [--model decoder-tiny] [--blocks 6] [--duration 3]

Writes bench/results/loadgen_overhead.json and .md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from wattfleet.agent.workloads.config import LoadConfig, ModelConfig, RuntimeConfig, SloConfig
from wattfleet.agent.workloads.harness_loadgen import run_loadgen
from wattfleet.agent.workloads.runners import open_runner
from wattfleet.agent.workloads.scenarios import QueryExecutor, Recorder, run_single_stream

RESULTS = Path(__file__).resolve().parent / "results"


def _figures(rec: Recorder) -> dict[str, float]:
    meas = [r for r in rec.requests if not r.warmup]
    t0, t1 = min(r.issued_ns for r in meas), max(r.done_ns for r in meas)
    return {"queries": len(meas), "tokens_per_s": sum(r.n_out for r in meas) / ((t1 - t0) / 1e9),
            "median_latency_ms": statistics.median((r.done_ns - r.scheduled_ns) / 1e6 for r in meas)}


def native_block(runner: Any, load: LoadConfig) -> dict[str, float]:
    rec = Recorder(load, None, threading.Event())
    run_single_stream(QueryExecutor(runner, load, rec))
    return _figures(rec)


def loadgen_block(runner: Any, load: LoadConfig, log_dir: Path) -> dict[str, float]:
    rec = Recorder(load, None, threading.Event())
    _, block = run_loadgen(QueryExecutor(runner, load, rec), SloConfig(), log_dir, time.time_ns(),
                           time.monotonic_ns())
    out = _figures(rec)
    out["loadgen_median_latency_ms"] = block["percentiles_ns"]["latency"]["p50"] / 1e6
    out["loadgen_valid"] = float(block["result"] == "VALID")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="decoder-tiny")
    ap.add_argument("--blocks", type=int, default=6)
    ap.add_argument("--duration", type=float, default=3.0, help="min_duration_s of each block")
    ap.add_argument("--prompt-tokens", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=16)
    args = ap.parse_args()
    load = LoadConfig(scenario="single-stream", prompt_tokens=args.prompt_tokens, output_tokens=args.new_tokens,
                      warmup_queries=2, min_duration_s=args.duration, seed=1)
    arms: dict[str, list[dict[str, float]]] = {"native": [], "loadgen": []}
    with tempfile.TemporaryDirectory() as tmp:
        runner = open_runner(ModelConfig(builtin=args.model), RuntimeConfig(intra_op_threads=1),
                             cache_dir=Path(tmp))
        for block in range(args.blocks):
            order = ("native", "loadgen") if block % 2 == 0 else ("loadgen", "native")
            for arm in order:
                if arm == "native":
                    arms[arm].append(native_block(runner, load))
                else:
                    arms[arm].append(loadgen_block(runner, load, Path(tmp) / f"mlperf-{block}"))
        env = runner.environment()
        runner.close()

    def med(arm: str, key: str) -> float:
        return statistics.median(b[key] for b in arms[arm])

    result = {
        "model": args.model,
        "provider": env["provider_used"],
        "device": env["device"]["name"],
        "cpu_count": env["threads"]["cpu_count"],
        "scenario": "single-stream",
        "blocks_per_arm": args.blocks,
        "min_duration_s": args.duration,
        "prompt_tokens": args.prompt_tokens,
        "new_tokens": args.new_tokens,
        "native": {"tokens_per_s": med("native", "tokens_per_s"),
                   "median_latency_ms": med("native", "median_latency_ms"),
                   "queries_per_block": med("native", "queries")},
        "loadgen": {"tokens_per_s": med("loadgen", "tokens_per_s"),
                    "median_latency_ms": med("loadgen", "median_latency_ms"),
                    "loadgen_median_latency_ms": med("loadgen", "loadgen_median_latency_ms"),
                    "queries_per_block": med("loadgen", "queries"),
                    "valid_blocks": sum(int(b["loadgen_valid"]) for b in arms["loadgen"])},
        "python": platform.python_version(),
    }
    result["ratio_tokens_per_s_native_over_loadgen"] = (result["native"]["tokens_per_s"]
                                                       / result["loadgen"]["tokens_per_s"])
    result["ratio_latency_loadgen_over_native"] = (result["loadgen"]["median_latency_ms"]
                                                   / result["native"]["median_latency_ms"])
    result["ratio_loadgen_clock_over_native"] = (result["loadgen"]["loadgen_median_latency_ms"]
                                                 / result["native"]["median_latency_ms"])
    command = (f".venv/bin/python bench/loadgen_overhead.py --model {args.model} --blocks {args.blocks} "
               f"--duration {args.duration:g}")
    result["command"] = command
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "loadgen_overhead.json").write_text(json.dumps(result, indent=1) + "\n")
    n, lgr = result["native"], result["loadgen"]
    native_row = (f"| native (our scenario driver) | {n['tokens_per_s']:.1f} | {n['median_latency_ms']:.4f} | - "
                  f"| {n['queries_per_block']:.0f} |")
    loadgen_row = (f"| loadgen (LoadGen issues, we serve) | {lgr['tokens_per_s']:.1f} | {lgr['median_latency_ms']:.4f} "
                   f"| {lgr['loadgen_median_latency_ms']:.4f} | {lgr['queries_per_block']:.0f} |")
    md = f"""# MLPerf LoadGen as the issuer vs our scenario driver: single-stream on one runner

Model `{args.model}`, {result['provider']}, 1 intra-op thread, prompt {args.prompt_tokens} tokens,
{args.new_tokens} new tokens, {args.blocks} interleaved blocks per arm of at least {args.duration:g} s each
({result['device']}, {result['cpu_count']} CPUs, shared with other work). Medians over blocks.

| arm | tokens/s | median latency, our timings (ms) | LoadGen's own median latency (ms) | queries/block |
|---|---|---|---|---|
{native_row}
{loadgen_row}

Tokens/s native / loadgen: **{result['ratio_tokens_per_s_native_over_loadgen']:.4f}**; median latency
loadgen / native: **{result['ratio_latency_loadgen_over_native']:.4f}** on our timings,
**{result['ratio_loadgen_clock_over_native']:.4f}** on LoadGen's clock (its latency starts when it issues,
before the query reaches our code, and ends when it records our completion). LoadGen said VALID in
{lgr['valid_blocks']} of {args.blocks} blocks.

Command: `{command}`
"""
    (RESULTS / "loadgen_overhead.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
