"""Our decode loop against a bare ONNX Runtime loop on the same model and session, interleaved.

wattfleet's `runner.generate` (with an on_token callback recording timestamps, as the scenarios use it)
and a minimal greedy KV-cache loop written here alternate trial by trial (the order flips every pair),
on the same InferenceSession. Per-token latency is the gap between consecutive decode steps; we report
the median over all trials of each, and their ratio (target: within 2%, ratio <= 1.02).

    .venv/bin/python bench/decode_overhead.py [--model decoder-small] [--trials 40]

Writes bench/results/decode_overhead.json and .md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from wattfleet.agent.workloads.config import ModelConfig, RuntimeConfig
from wattfleet.agent.workloads.runners import GenerativeRunner, open_runner

RESULTS = Path(__file__).resolve().parent / "results"


def bare_loop(session: ort.InferenceSession, prompt: list[int], new_tokens: int, layers: int, kv_heads: int,
              head_dim: int, dtype: type[np.generic], with_positions: bool) -> list[int]:
    """The least a Python program can do: feed, run, argmax, stamp, carry the cache."""
    names = [f"past_key_values.{i}.{k}" for i in range(layers) for k in ("key", "value")]
    outputs = ["logits", *(f"present.{i}.{k}" for i in range(layers) for k in ("key", "value"))]
    empty = np.zeros((1, kv_heads, 0, head_dim), dtype=dtype)
    past = [empty] * len(names)
    ids = np.array([prompt], dtype=np.int64)
    stamps: list[int] = []
    pos = 0
    for _ in range(new_tokens):
        seq = ids.shape[1]
        feeds = {"input_ids": ids, "attention_mask": np.ones((1, pos + seq), dtype=np.int64)}
        if with_positions:
            feeds["position_ids"] = np.arange(pos, pos + seq, dtype=np.int64).reshape(1, seq)
        feeds.update(zip(names, past, strict=True))
        results = session.run(outputs, feeds)
        token = int(results[0][0, -1].argmax())
        stamps.append(time.monotonic_ns())
        pos += seq
        past = results[1:]
        ids = np.array([[token]], dtype=np.int64)
    return stamps


def ours(runner: GenerativeRunner, prompt: list[int], new_tokens: int) -> list[int]:
    stamps: list[int] = []
    runner.generate([prompt], new_tokens, on_token=lambda b, i, t_ns: stamps.append(t_ns))
    return stamps


def gaps_ms(stamps: list[int]) -> list[float]:
    return [(b - a) / 1e6 for a, b in itertools.pairwise(stamps)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="decoder-small")
    parser.add_argument("--trials", type=int, default=40, help="trials of each loop")
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads for the shared session")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as cache:
        runner = open_runner(ModelConfig(builtin=args.model), RuntimeConfig(intra_op_threads=args.threads),
                             cache_dir=Path(cache))
        assert isinstance(runner, GenerativeRunner) and runner.session is not None
        layout = runner.layout
        prompts = runner.make_prompts(args.trials, args.prompt_tokens, seed=0)

        def bare(prompt: list[int]) -> list[int]:
            assert runner.session is not None
            return bare_loop(runner.session, prompt, args.new_tokens, layout.layers, layout.kv_heads,
                             layout.head_dim, layout.dtype, layout.position_ids)

        for prompt in prompts[:3]:  # warm both paths
            ours(runner, prompt, args.new_tokens)
            bare(prompt)
        per_trial: dict[str, list[float]] = {"wattfleet": [], "bare": []}
        pooled: dict[str, list[float]] = {"wattfleet": [], "bare": []}
        for index, prompt in enumerate(prompts):
            order = [("wattfleet", ours), ("bare", None)] if index % 2 == 0 else [("bare", None), ("wattfleet", ours)]
            for name, _ in order:
                stamps = ours(runner, prompt, args.new_tokens) if name == "wattfleet" else bare(prompt)
                gaps = gaps_ms(stamps)  # decode steps only: the first stamp closes the prefill
                per_trial[name].append(statistics.median(gaps))
                pooled[name].extend(gaps)
        env = runner.environment()
        runner.close()

    median = {k: statistics.median(v) for k, v in per_trial.items()}
    ratio = median["wattfleet"] / median["bare"]
    paired = [a / b for a, b in zip(per_trial["wattfleet"], per_trial["bare"], strict=True)]
    result = {
        "bench": "decode_overhead",
        "model": args.model,
        "params": env["model"]["params"],
        "provider": env["provider_used"],
        "threads": args.threads,
        "trials": args.trials,
        "prompt_tokens": args.prompt_tokens,
        "new_tokens": args.new_tokens,
        "median_per_token_ms": median,
        "pooled_median_per_token_ms": {k: statistics.median(v) for k, v in pooled.items()},
        "ratio_wattfleet_over_bare": ratio,
        "paired_ratio_median": statistics.median(paired),
        "target": "ratio <= 1.02",
        "met": ratio <= 1.02,
        "host": {"cpu": env["device"]["name"], "cpu_count": env["threads"]["cpu_count"],
                 "python": platform.python_version(), "onnxruntime": env["versions"]["onnxruntime"]},
        "command": f".venv/bin/python bench/decode_overhead.py --model {args.model} --trials {args.trials}",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "decode_overhead.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "decode_overhead.md").write_text(
        f"# Decode loop overhead: wattfleet vs bare ONNX Runtime\n\n"
        f"Model `{args.model}` ({env['model']['params']:,} parameters), {env['provider_used']}, "
        f"{args.threads} intra-op thread(s), prompt {args.prompt_tokens} tokens, {args.new_tokens} new tokens, "
        f"{args.trials} interleaved trials of each loop on one session ({env['device']['name']}, "
        f"{env['threads']['cpu_count']} CPUs, shared).\n\n"
        f"| loop | median per-token latency (ms) |\n|---|---|\n"
        f"| wattfleet `runner.generate` + on_token | {median['wattfleet']:.4f} |\n"
        f"| bare ORT loop | {median['bare']:.4f} |\n\n"
        f"Ratio wattfleet / bare: **{ratio:.4f}** (median of paired per-trial ratios {statistics.median(paired):.4f}); "
        f"target <= 1.02: {'met' if ratio <= 1.02 else 'NOT met'}.\n\n"
        f"Command: `{result['command']}`\n")
    print(json.dumps({k: result[k] for k in ("median_per_token_ms", "ratio_wattfleet_over_bare",
                                             "paired_ratio_median", "met")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
