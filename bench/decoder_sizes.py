"""Tokens/s of the built-in decoder at three sizes (tiny, small, medium), side by side in one run.

Sizes take turns trial by trial so a noisy neighbour hits all of them alike. Two figures per size:
end-to-end tokens/s of one request (prefill included: new tokens / generate() wall time) and decode
tokens/s (1 / median gap between consecutive tokens), at batch 1 and batch 4.

    .venv/bin/python bench/decoder_sizes.py [--trials 8]

Writes bench/results/decoder_sizes.json and .md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path

from wattfleet.agent.workloads.config import ModelConfig, RuntimeConfig
from wattfleet.agent.workloads.runners import GenerativeRunner, open_runner

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = ("decoder-tiny", "decoder-small", "decoder-medium")


def one_request(runner: GenerativeRunner, batch: int, prompt_tokens: int, new_tokens: int, seed: int
                ) -> tuple[float, float]:
    """(end-to-end tokens/s over the batch, decode tokens/s over the batch)."""
    stamps: list[int] = []
    prompts = runner.make_prompts(batch, prompt_tokens, seed)
    t0 = time.monotonic_ns()
    runner.generate(prompts, new_tokens, on_token=lambda b, i, t: stamps.append(t) if b == 0 else None)
    t1 = time.monotonic_ns()
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    return batch * new_tokens / ((t1 - t0) / 1e9), batch / (statistics.median(gaps) / 1e9)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=64)
    args = parser.parse_args()
    batches = (1, 4)
    with tempfile.TemporaryDirectory() as cache:
        runners: dict[str, GenerativeRunner] = {}
        for name in SIZES:
            runner = open_runner(ModelConfig(builtin=name), RuntimeConfig(), cache_dir=Path(cache))
            assert isinstance(runner, GenerativeRunner)
            runners[name] = runner
        for runner in runners.values():  # warm-up
            one_request(runner, 1, args.prompt_tokens, args.new_tokens, seed=99)
        samples: dict[tuple[str, int], list[tuple[float, float]]] = {(n, b): [] for n in SIZES for b in batches}
        for trial in range(args.trials):
            for name in SIZES:
                for batch in batches:
                    samples[(name, batch)].append(
                        one_request(runners[name], batch, args.prompt_tokens, args.new_tokens, seed=trial))
        rows = []
        for name in SIZES:
            env = runners[name].environment()
            for batch in batches:
                e2e = statistics.median(s[0] for s in samples[(name, batch)])
                decode = statistics.median(s[1] for s in samples[(name, batch)])
                rows.append({"model": name, "params": env["model"]["params"], "batch": batch,
                             "tokens_per_s": e2e, "decode_tokens_per_s": decode,
                             "cold_start": runners[name].cold_start.to_dict()})
        env = runners[SIZES[0]].environment()
        for runner in runners.values():
            runner.close()
    base = {r["batch"]: r["tokens_per_s"] for r in rows if r["model"] == SIZES[0]}
    for row in rows:
        row["relative_to_tiny"] = row["tokens_per_s"] / base[row["batch"]]
    result = {"bench": "decoder_sizes", "provider": env["provider_used"], "device": env["device"]["name"],
              "cpu_count": env["threads"]["cpu_count"], "onnxruntime": env["versions"]["onnxruntime"],
              "trials": args.trials, "prompt_tokens": args.prompt_tokens, "new_tokens": args.new_tokens,
              "rows": rows, "command": f".venv/bin/python bench/decoder_sizes.py --trials {args.trials}"}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "decoder_sizes.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Built-in decoder tokens/s at three sizes\n",
        f"{env['provider_used']} on {env['device']['name']} ({env['threads']['cpu_count']} CPUs, shared), "
        f"onnxruntime {env['versions']['onnxruntime']}, default threads; prompt {args.prompt_tokens} tokens, "
        f"{args.new_tokens} new tokens, median of {args.trials} interleaved trials.\n",
        "| model | params | batch | tokens/s (incl. prefill) | decode tokens/s | vs tiny |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['model']} | {r['params']:,} | {r['batch']} | {r['tokens_per_s']:.0f} | "
              f"{r['decode_tokens_per_s']:.0f} | {r['relative_to_tiny']:.3f} |" for r in rows]
    lines.append(f"\nCommand: `{result['command']}`\n")
    (RESULTS / "decoder_sizes.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
