"""What the scenario machinery costs per token: a single-stream scenario (QueryExecutor, Recorder, an
observer receiving every token, Query records) against plain `runner.generate` calls with a
timestamp-collecting callback, on the same runner, interleaved block by block (order flips each pair).

Per-token latency is tpot per request ((last - first token) / (n - 1)); we report the median over all
requests of each arm and the ratio (target: within 2%, ratio <= 1.02).

    .venv/bin/python bench/scenario_overhead.py [--model decoder-small] [--blocks 12] [--queries 8]

Writes bench/results/scenario_overhead.json and .md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import threading
from pathlib import Path
from typing import Any

from wattfleet.agent.workloads.config import LoadConfig, ModelConfig, RuntimeConfig
from wattfleet.agent.workloads.runners import open_runner
from wattfleet.agent.workloads.scenarios import Query, QueryExecutor, Recorder, run_single_stream

RESULTS = Path(__file__).resolve().parent / "results"


class CountingObserver:
    """An observer that does what a cheap real one does: count, under a lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tokens = 0

    def on_phase(self, state: str, detail: str = "") -> None:
        return None

    def on_progress(self, fraction: float, queries_done: int, tokens_done: int, elapsed_s: float) -> None:
        return None

    def on_token(self, query_id: int, token_index: int, t_ns: int) -> None:
        with self.lock:
            self.tokens += 1

    def on_query(self, q: Query) -> None:
        return None


def tpot_ms(stamps: list[int]) -> float:
    return (stamps[-1] - stamps[0]) / 1e6 / (len(stamps) - 1)


def bare_block(runner: Any, prompts: list[list[int]], new_tokens: int) -> list[float]:
    out = []
    for prompt in prompts:
        stamps: list[int] = []
        runner.generate([prompt], new_tokens, on_token=lambda b, i, t, s=stamps: s.append(t))
        out.append(tpot_ms(stamps))
    return out


def scenario_block(runner: Any, load: LoadConfig) -> list[float]:
    rec = Recorder(load, CountingObserver(), threading.Event())
    run_single_stream(QueryExecutor(runner, load, rec))
    return [tpot_ms(list(r.token_ns)) for r in rec.requests if not r.warmup]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="decoder-small")
    ap.add_argument("--blocks", type=int, default=12)
    ap.add_argument("--queries", type=int, default=8)
    ap.add_argument("--prompt-tokens", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=64)
    args = ap.parse_args()
    load = LoadConfig(prompt_tokens=args.prompt_tokens, output_tokens=args.new_tokens, warmup_queries=0,
                      min_duration_s=0.0, min_queries=args.queries, max_queries=args.queries, seed=1)
    with tempfile.TemporaryDirectory() as cache:
        runner = open_runner(ModelConfig(builtin=args.model), RuntimeConfig(intra_op_threads=1),
                             cache_dir=Path(cache))
        # the scenario cycles the first `queries` prompts of its pool; the bare arm uses the same ones
        prompts = runner.make_prompts(32, args.prompt_tokens, seed=1)[: args.queries]
        bare_block(runner, prompts[:2], args.new_tokens)  # warm both paths
        ours: list[float] = []
        bare: list[float] = []
        ratios: list[float] = []
        for block in range(args.blocks):
            if block % 2 == 0:
                a = scenario_block(runner, load)
                b = bare_block(runner, prompts, args.new_tokens)
            else:
                b = bare_block(runner, prompts, args.new_tokens)
                a = scenario_block(runner, load)
            ours += a
            bare += b
            ratios.append(statistics.median(a) / statistics.median(b))
        env = runner.environment()
        runner.close()
    med_ours, med_bare = statistics.median(ours), statistics.median(bare)
    result = {
        "model": args.model,
        "provider": env["provider_used"],
        "device": env["device"]["name"],
        "cpu_count": env["threads"]["cpu_count"],
        "blocks": args.blocks,
        "queries_per_block": args.queries,
        "prompt_tokens": args.prompt_tokens,
        "new_tokens": args.new_tokens,
        "median_tpot_ms_scenario": med_ours,
        "median_tpot_ms_bare_generate": med_bare,
        "ratio": med_ours / med_bare,
        "median_block_ratio": statistics.median(ratios),
        "target_ratio_max": 1.02,
        "python": platform.python_version(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scenario_overhead.json").write_text(json.dumps(result, indent=1) + "\n")
    met = "met" if result["ratio"] <= 1.02 else "NOT met"
    command = (f".venv/bin/python bench/scenario_overhead.py --model {args.model} --blocks {args.blocks} "
               f"--queries {args.queries}")
    md = f"""# Scenario machinery overhead: single-stream scenario vs bare runner.generate

Model `{args.model}`, {result['provider']}, 1 intra-op thread, prompt {args.prompt_tokens} tokens,
{args.new_tokens} new tokens, {args.blocks} interleaved blocks of {args.queries} requests per arm on one
runner ({result['device']}, {result['cpu_count']} CPUs, shared with other work).

| arm | median tpot (ms) |
|---|---|
| single-stream scenario (Recorder, observer on every token, records) | {med_ours:.4f} |
| bare `runner.generate` + timestamp callback | {med_bare:.4f} |

Ratio scenario / bare: **{result['ratio']:.4f}** (median of per-block ratios {result['median_block_ratio']:.4f});
target <= 1.02: {met}.

Command: `{command}`
"""
    (RESULTS / "scenario_overhead.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
