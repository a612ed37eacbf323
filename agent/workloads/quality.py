"""Quality beside speed: how far a configuration's answers are from a reference configuration's.

The reference is another provider or precision, or another model file (quality.reference_model: the fp32
original of a quantised copy). Decoders: greedy tokens compared position by position on given prompts,
and prompt logits compared as tensors; on the user's items, also the answers themselves (agreement of
answers, and both success rates where items have expected answers), so a quantised copy shows what it
costs in answers. Fixed models: every output on identical inputs. A configuration below the thresholds
is flagged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from wattfleet.agent.workloads.config import QualityConfig
from wattfleet.core.errors import UsageError

_DEFAULTS = QualityConfig()


def tensor_agreement(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> dict[str, float]:
    """max and mean absolute difference and cosine similarity over all outputs, flattened together."""
    if len(a) != len(b) or any(x.shape != y.shape for x, y in zip(a, b, strict=True)):
        raise UsageError(f"outputs differ in shape: {[x.shape for x in a]} against {[y.shape for y in b]}; "
                         "the two configurations do not run the same model")
    x = np.concatenate([np.asarray(t, dtype=np.float64).ravel() for t in a])
    y = np.concatenate([np.asarray(t, dtype=np.float64).ravel() for t in b])
    diff = np.abs(x - y)
    norm = float(np.linalg.norm(x) * np.linalg.norm(y))
    cosine = float(np.dot(x, y) / norm) if norm > 0 else float(np.array_equal(x, y))
    return {"max_abs_diff": float(diff.max(initial=0.0)), "mean_abs_diff": float(diff.mean()) if diff.size else 0.0,
            "cosine": cosine}


def token_agreement(tokens: Sequence[Sequence[int]], reference: Sequence[Sequence[int]]) -> tuple[float, list[int]]:
    """Share of positions where the tokens equal the reference's, and each sample's first divergence
    (-1 when a sample agrees throughout). Outputs may differ in length (one stopped at EOS earlier):
    positions only one of them has count as disagreeing."""
    matches = total = 0
    first: list[int] = []
    for ours, theirs in zip(tokens, reference, strict=True):
        same = [a == b for a, b in zip(ours, theirs, strict=False)]
        same += [False] * abs(len(ours) - len(theirs))
        matches += sum(same)
        total += len(same)
        first.append(same.index(False) if False in same else -1)
    return (matches / total if total else 1.0), first


def _describe(runner: Any) -> dict[str, Any]:
    env = runner.environment()
    return {"provider": env.get("provider_used"), "precision": env.get("precision"),
            "model": env.get("model", {}).get("name")}


def _answers(runner: Any, items: Sequence[Any], eos: int | Sequence[int] | None) -> list[list[int]]:
    """Each item's greedy output, one prompt at a time (items differ in length; a batch shares one)."""
    return [runner.generate([list(p.ids)], p.max_output_tokens, eos_token_id=eos)[0] for p in items]


def _item_answers(result: dict[str, Any], items: Sequence[Any], grader: Any, ours: Sequence[Sequence[int]],
                  theirs: Sequence[Sequence[int]]) -> None:
    """Agreement of the answers (cut at EOS, decoded where a tokenizer is there) and both success rates."""
    from wattfleet.agent.workloads.traffic.scorers import answer_agreement

    mine = [grader.grade(p.item, out) for p, out in zip(items, ours, strict=True)]
    ref = [grader.grade(p.item, out) for p, out in zip(items, theirs, strict=True)]
    as_text = all(g.text is not None for g in mine + ref)
    a = [g.text if as_text else g.answer_ids for g in mine]
    b = [g.text if as_text else g.answer_ids for g in ref]
    result["items"] = len(items)
    result["answer_agreement"] = answer_agreement(a, b, grader.spec)
    scored = [(x.correct, y.correct) for x, y in zip(mine, ref, strict=True) if x.correct is not None]
    result["scored"] = len(scored)
    result["success_rate"] = sum(bool(x) for x, _ in scored) / len(scored) if scored else None
    result["reference_success_rate"] = sum(bool(y) for _, y in scored) / len(scored) if scored else None


def compare_with_reference(runner: Any, reference_runner: Any, *, prompts: Sequence[Sequence[int]] | None = None,
                           n_samples: int = 4, max_new_tokens: int | Sequence[int] = 16, seed: int = 0,
                           eos_token_id: int | Sequence[int] | None = None, items: Sequence[Any] = (),
                           grader: Any = None, min_token_agreement: float = _DEFAULTS.min_token_agreement,
                           min_cosine: float = _DEFAULTS.min_cosine) -> dict[str, Any]:
    """Run both runners on the same inputs and say how far apart their answers are.

    Decoders take explicit `prompts` (token ids) with one limit for all or one per prompt, and stop at
    `eos_token_id` when given; without prompts, n_samples seeded ones. With `items` (traffic.items.Prompt:
    the workload's own) and their `grader`, every item runs on both, and the answers are compared too:
    `answer_agreement` (traffic.scorers) and, where items have expected answers, both success rates."""
    if runner.kind != reference_runner.kind:
        raise UsageError(f"cannot compare a {runner.kind} runner with a {reference_runner.kind} reference; "
                         "the reference must run the same model")
    result: dict[str, Any] = {"reference": _describe(reference_runner), "token_agreement": None,
                              "max_abs_diff": None, "mean_abs_diff": None, "cosine": None}
    if runner.kind == "generative":
        if runner.vocab_size != reference_runner.vocab_size:
            raise UsageError(f"vocabularies differ ({runner.vocab_size} against {reference_runner.vocab_size}); "
                             "the reference must run the same model")
        if items:
            prompts = [list(p.ids) for p in items]
            ours, theirs = _answers(runner, items, eos_token_id), _answers(reference_runner, items, eos_token_id)
            logits = ([runner.prefill_logits([p]) for p in prompts],
                      [reference_runner.prefill_logits([p]) for p in prompts])
        else:
            longest = max_new_tokens if isinstance(max_new_tokens, int) else max(max_new_tokens)
            if prompts is None:
                length = max(1, min(16, min(runner.max_context, reference_runner.max_context) - longest))
                prompts = reference_runner.make_prompts(n_samples, length, seed)
            ours = runner.generate(prompts, max_new_tokens, eos_token_id=eos_token_id)
            theirs = reference_runner.generate(prompts, max_new_tokens, eos_token_id=eos_token_id)
            logits = ([runner.prefill_logits(prompts)], [reference_runner.prefill_logits(prompts)])
        agreement, first = token_agreement(ours, theirs)
        result["token_agreement"] = agreement
        result.update(tensor_agreement(*logits))
        flagged = agreement < min_token_agreement or result["cosine"] < min_cosine
        positions = sum(max(len(a), len(b)) for a, b in zip(ours, theirs, strict=True))
        result["detail"] = (f"{agreement:.1%} of {positions} greedy tokens over {len(prompts)} prompts equal the "
                            f"reference's (first divergence per sample: {first}); prompt logits cosine "
                            f"{result['cosine']:.6f}, max |diff| {result['max_abs_diff']:.3g}")
        if items and grader is not None:
            _item_answers(result, items, grader, ours, theirs)
            result["detail"] += f"; answers agree on {result['answer_agreement']:.1%} of {len(items)} items"
            if result["success_rate"] is not None:
                result["detail"] += (f"; success {result['success_rate']:.1%} against the reference's "
                                     f"{result['reference_success_rate']:.1%} ({result['scored']} scored)")
    else:
        feeds = reference_runner.input_batch(1)
        result.update(tensor_agreement(runner.run_feeds(feeds), reference_runner.run_feeds(feeds)))
        flagged = result["cosine"] < min_cosine
        result["detail"] = (f"outputs on identical inputs: cosine {result['cosine']:.6f}, max |diff| "
                            f"{result['max_abs_diff']:.3g}, mean |diff| {result['mean_abs_diff']:.3g}")
    result["flagged"] = bool(flagged)
    if flagged:
        result["detail"] += (f"; FLAGGED: below the thresholds (token agreement >= {min_token_agreement}, "
                             f"cosine >= {min_cosine}): this configuration changes the answers")
    return result
