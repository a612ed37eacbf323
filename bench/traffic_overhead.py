"""What the user's-own-traffic pieces cost per request beside the model's own time per request: tokenising
a text prompt (a byte-level BPE tokenizer.json trained here on generated question/answer sentences), the
item order and length draws, and grading (decode the output, cut at EOS, score it), against one greedy
`runner.generate` of the same prompt on the built-in decoder, interleaved request by request.

    .venv/bin/python bench/traffic_overhead.py [--model decoder-tiny] [--requests 200] [--new-tokens 32]

Writes bench/results/traffic_overhead.json and .md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from wattfleet.agent.workloads.config import ModelConfig, RuntimeConfig
from wattfleet.agent.workloads.runners import open_runner
from wattfleet.agent.workloads.traffic.items import ItemOrder, load_items
from wattfleet.agent.workloads.traffic.lengths import LengthSampler, parse_length_dist
from wattfleet.agent.workloads.traffic.scorers import ScorerSpec
from wattfleet.agent.workloads.traffic.task import Grader
from wattfleet.agent.workloads.traffic.tokenizer import TextTokenizer

RESULTS = Path(__file__).resolve().parent / "results"
WORDS = ("what is the sum of and then plus minus times apples pears tokens joules answer total left over "
         "each basket holds a farmer sells how many does she have").split()


def sentences(n: int, seed: int) -> list[tuple[str, int]]:
    """Seeded arithmetic questions with filler words, and their answers."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        a, b = (int(x) for x in rng.integers(2, 5000, 2))
        filler = " ".join(rng.choice(WORDS, int(rng.integers(8, 40))).tolist())
        out.append((f"{filler} What is {a:,} plus {b:,}? Think step by step.", a + b))
    return out


def build_tokenizer(path: Path, vocab: int) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=["[UNK]", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([s for s, _ in sentences(400, seed=99)], trainer)
    tok.save(str(path))


def us(ns: int) -> float:
    return ns / 1000.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="decoder-tiny")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--new-tokens", type=int, default=32)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        runner = open_runner(ModelConfig(builtin=args.model), RuntimeConfig(intra_op_threads=1), cache_dir=root)
        build_tokenizer(root / "tokenizer.json", min(runner.vocab_size, 512))
        tok = TextTokenizer(root / "tokenizer.json")
        qa = sentences(args.requests, seed=1)
        (root / "items.jsonl").write_text("\n".join(json.dumps({"prompt": q, "expected": str(a)}) for q, a in qa)
                                          + "\n", encoding="utf-8")
        items = load_items(root / "items.jsonl")
        grader = Grader(items, ScorerSpec("last-number"), tok, eos_ids=[1])
        order = ItemOrder(len(items.items), "seeded", seed=0)
        lengths = LengthSampler(parse_length_dist({"dist": "lognormal", "median": 24, "sigma": 0.8, "max": 64},
                                                  "bench"), seed=0)
        runner.generate([tok.encode(qa[0][0])], 2)  # warm
        cost: dict[str, list[int]] = {"order_and_length": [], "tokenise": [], "generate": [], "grade": []}
        prompt_lens = []
        for n in range(args.requests):
            t0 = time.perf_counter_ns()
            item = items.items[order.index(n)]
            lengths.at(n)
            t1 = time.perf_counter_ns()
            ids = tok.encode(item.prompt_text or "")
            t2 = time.perf_counter_ns()
            out = runner.generate([ids], args.new_tokens)[0]
            t3 = time.perf_counter_ns()
            grader.grade(item, out)
            t4 = time.perf_counter_ns()
            for key, value in zip(cost, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                cost[key].append(value)
            prompt_lens.append(len(ids))
        env = runner.environment()
        runner.close()
    med = {k: us(int(statistics.median(v))) for k, v in cost.items()}
    ours = med["order_and_length"] + med["tokenise"] + med["grade"]
    per_query = med["order_and_length"] + med["grade"]  # a run tokenises each item once, while preparing
    result: dict[str, Any] = {
        "model": args.model, "provider": env["provider_used"], "device": env["device"]["name"],
        "cpu_count": env["threads"]["cpu_count"], "requests": args.requests, "new_tokens": args.new_tokens,
        "median_prompt_tokens": statistics.median(prompt_lens),
        "median_us": med, "traffic_over_generate": ours / med["generate"],
        "per_query_over_generate": per_query / med["generate"],
        "python": platform.python_version(),
    }
    command = (f".venv/bin/python bench/traffic_overhead.py --model {args.model} --requests {args.requests} "
               f"--new-tokens {args.new_tokens}")
    result["command"] = command
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "traffic_overhead.json").write_text(json.dumps(result, indent=1) + "\n")
    md = f"""# Traffic and scoring cost per request beside the model's own time

Model `{args.model}`, {result['provider']}, 1 intra-op thread, {args.requests} text prompts (median
{result['median_prompt_tokens']:g} tokens with a byte-level BPE tokenizer.json trained in the bench),
{args.new_tokens} new tokens, each step timed per request, interleaved ({result['device']},
{result['cpu_count']} CPUs, shared with other work).

| per request | median (us) |
|---|---|
| item order + length draw | {med['order_and_length']:.1f} |
| tokenise the prompt (`tokenizers`; a run does it once per item, while preparing) | {med['tokenise']:.1f} |
| grade: decode, cut at EOS, last-number score | {med['grade']:.1f} |
| model: `runner.generate` | {med['generate']:.1f} |

Traffic and scoring / model time: **{result['traffic_over_generate']:.2%}** with tokenising; what a run
adds to each query (item order, and grading after its last token, outside every latency):
**{result['per_query_over_generate']:.2%}**. The model is the smallest built-in; tokenising and grading
depend on prompt and answer length, not on the model, so beside a larger model their share is smaller.
Each step is timed between generate calls, as in a run (caches not warm).

Command: `{command}`
"""
    (RESULTS / "traffic_overhead.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
