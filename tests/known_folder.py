"""Inputs with answers known in advance, for the built-in known decoders (models/known.py): item files whose
expected answers are the correct model's greedy output, the perturbed copy's failures predicted from the map
alone, and a model folder (known decoder + a WordLevel tokenizer.json + config.json + questions in words)
as `optimum-cli export onnx` would lay one out. Used by tests/workloads and tests/service."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from wattfleet.agent.workloads.models import KNOWN, builtin_model_path
from wattfleet.agent.workloads.models.known import KnownSpec, greedy
from wattfleet.agent.workloads.traffic.items import load_items
from wattfleet.agent.workloads.traffic.scorers import cut_at_eos

SPEC = KNOWN["decoder-known"]
BAD = KNOWN["decoder-known-perturbed"]
# The questions of the text folder: item id -> (prompt, expected, output limit or None), and whether the
# known decoder answers it correctly under the last-number scorer.
QUESTIONS = {
    "mul": ("what is six times seven", "42", None, True),
    "add": ("what is seven plus one", 8, 4, True),
    "wrong": ("what is seven plus one", "9", 4, False),
}
MUL_ANSWER_TOKENS = 6  # "the answer is 42 ." and EOS: "mul" stops there, well before its limit of 10


def predecessor(token: int, k: int, spec: KnownSpec = SPEC) -> int:
    """The token k steps before `token` on the map's cycle."""
    inverse = {spec.next_token(t): t for t in range(spec.vocab)}
    for _ in range(k):
        token = inverse[token]
    return token


def answer_items(path: Path, n: int, limit: int) -> Path:
    """n items of token-id prompts, each expecting the correct model's answer (cut at EOS); every fifth
    ends close to EOS so that some answers are short and EOS-terminated."""
    rng = np.random.default_rng(11)
    lines = []
    for i in range(n):
        prompt = rng.integers(0, SPEC.vocab, 4).tolist()
        if i % 5 == 0:
            prompt[-1] = predecessor(SPEC.eos, 2 + i // 5)  # answers of 1..8 tokens, then EOS
        lines.append(json.dumps({"id": f"q{i}", "prompt_ids": prompt, "max_output_tokens": limit,
                                 "expected": cut_at_eos(greedy(SPEC, prompt, limit), [SPEC.eos])}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def predicted_failures(path: Path, limit: int) -> list[str]:
    """Items the perturbed copy gets wrong, from the map alone: an item fails iff a token fed to the model
    before its answer ends (the last prompt token, then each output token before the last) is one the
    perturbed copy moves."""
    moved = BAD.perturbed_tokens()
    failed = []
    for item in load_items(path).items:
        assert item.prompt_ids is not None
        out = greedy(SPEC, item.prompt_ids, limit)
        if any(t in moved for t in [item.prompt_ids[-1], *out[:-1]]):
            failed.append(item.item_id)
    return failed


def word_tokenizer(path: Path, words: dict[str, int]) -> None:
    """A WordLevel tokenizer.json with the given word -> id table (and [UNK], </s>)."""
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel(vocab=words, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens([AddedToken("</s>", special=True)])
    tok.save(str(path))


def text_folder(folder: Path, cache: Path) -> Path:
    """A model folder whose known decoder answers QUESTIONS in words: words sit on the map's cycle so that
    "... six times seven" walks to EOS through "the answer is 42 ." and "... seven plus one" walks
    "makes 8 in total" (cut at its limit of 4). Returns the folder (model.onnx, tokenizer.json,
    config.json with the EOS id, questions.jsonl)."""
    chain_a = {predecessor(SPEC.eos, k): w
               for k, w in zip(range(6, 0, -1), ["seven", "the", "answer", "is", "42", "."], strict=True)}
    chain_b = {predecessor(SPEC.eos, k): w
               for k, w in zip(range(40, 35, -1), ["one", "makes", "8", "in", "total"], strict=True)}
    words = {w: i for i, w in {**chain_a, **chain_b}.items()}
    free = (i for i in range(2, SPEC.vocab) if i not in chain_a and i not in chain_b)
    for w in ("[UNK]", "what", "six", "times", "plus"):
        words[w] = next(free)
    words["</s>"] = SPEC.eos
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(builtin_model_path("decoder-known", cache), folder / "model.onnx")
    word_tokenizer(folder / "tokenizer.json", words)
    (folder / "config.json").write_text(json.dumps({"eos_token_id": SPEC.eos, "vocab_size": SPEC.vocab}),
                                        encoding="utf-8")
    lines = []
    for item_id, (prompt, expected, limit, _) in QUESTIONS.items():
        item: dict[str, object] = {"id": item_id, "prompt": prompt, "expected": expected}
        if limit is not None:
            item["max_output_tokens"] = limit
        lines.append(json.dumps(item))
    (folder / "questions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
