"""Decoders with known answers, run by the real runner on ONNX Runtime: exact success rates, exactly counted
failures of the perturbed copy, EOS where the map puts it, and text prompts through a real tokenizer.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from known_folder import (
    BAD,
    MUL_ANSWER_TOKENS,
    QUESTIONS,
    SPEC,
    answer_items,
    predecessor,
    predicted_failures,
    text_folder,
    word_tokenizer,
)

from wattfleet.agent.figures.success import tally
from wattfleet.agent.workloads.config import ModelConfig, RuntimeConfig
from wattfleet.agent.workloads.models import KNOWN, builtin_kind, builtin_model_path, builtin_names
from wattfleet.agent.workloads.models.known import greedy, steps_to_eos
from wattfleet.agent.workloads.runners import open_runner
from wattfleet.agent.workloads.runners.export_config import read_export_config
from wattfleet.agent.workloads.traffic.items import load_items, prepare
from wattfleet.agent.workloads.traffic.scorers import ScorerSpec, cut_at_eos
from wattfleet.agent.workloads.traffic.task import Grader
from wattfleet.agent.workloads.traffic.tokenizer import TextTokenizer, find_eos
from wattfleet.core.errors import ConfigError

tokenizers = pytest.importorskip("tokenizers", reason="the agent extra installs `tokenizers`")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("known-models")


def _runner(name: str, cache: Path, model_dirs: tuple[Path, ...] = ()) -> object:
    if name in KNOWN:
        return open_runner(ModelConfig(builtin=name), RuntimeConfig(), cache_dir=cache)
    return open_runner(ModelConfig(path=name), RuntimeConfig(), model_dirs=model_dirs, cache_dir=cache)


def test_known_decoders_are_builtins_with_one_full_cycle() -> None:
    assert {"decoder-known", "decoder-known-perturbed"} <= set(builtin_names())
    assert builtin_kind("decoder-known-perturbed") == "generative"
    seen, t = set(), SPEC.eos
    for _ in range(SPEC.vocab):
        t = SPEC.next_token(t)
        seen.add(t)
    assert len(seen) == SPEC.vocab and t == SPEC.eos  # one cycle through every token: EOS is reachable
    assert max(steps_to_eos(SPEC, t) for t in range(SPEC.vocab)) == SPEC.vocab
    moved = BAD.perturbed_tokens()
    assert len(moved) == 64 and SPEC.eos not in moved and not SPEC.perturbed_tokens()


def test_runner_output_is_the_map_for_both_models(cache: Path) -> None:
    prompts = np.random.default_rng(3).integers(0, SPEC.vocab, (24, 6)).tolist()
    for name, spec in KNOWN.items():
        runner = _runner(name, cache)
        try:
            out = runner.generate(prompts, 40)  # type: ignore[attr-defined]
        finally:
            runner.close()  # type: ignore[attr-defined]
        assert out == [greedy(spec, p, 40, stop_at_eos=False) for p in prompts], name
    assert builtin_model_path("decoder-known", cache) != builtin_model_path("decoder-known-perturbed", cache)


def test_eos_comes_exactly_where_the_map_puts_it(cache: Path) -> None:
    runner = _runner("decoder-known", cache)
    try:
        for k in (1, 2, 5, 9):
            prompt = [7, 3, predecessor(SPEC.eos, k)]
            out = runner.generate([prompt], 12)[0]  # type: ignore[attr-defined]
            assert out[k - 1] == SPEC.eos and SPEC.eos not in out[: k - 1]
            assert len(cut_at_eos(out, [SPEC.eos])) == k - 1
            assert len(greedy(SPEC, prompt, 12)) == k == steps_to_eos(SPEC, prompt[-1])
    finally:
        runner.close()  # type: ignore[attr-defined]


def _run_items(name: str, cache: Path, items_path: Path) -> tuple[int, int, list[str]]:
    """Run every item through the runner and grade it; (scored, correct, ids of failed items)."""
    items = load_items(items_path)
    runner = _runner(name, cache)
    try:
        prompts = prepare(items, None, default_max_output_tokens=8, vocab_size=runner.vocab_size,  # type: ignore[attr-defined]
                          max_context=runner.max_context, model_name=name)  # type: ignore[attr-defined]
        grader = Grader(items, ScorerSpec("exact", on="ids"), None, [SPEC.eos])
        graded = [grader.grade(p.item, runner.generate([list(p.ids)], p.max_output_tokens)[0])  # type: ignore[attr-defined]
                  for p in prompts]
    finally:
        runner.close()  # type: ignore[attr-defined]
    success = tally(((g.correct, True) for g in graded), "exact", "ids")
    return success.scored, success.correct, [g.item_id for g in graded if not g.correct]


def test_known_decoder_answers_every_item_and_the_perturbed_one_fails_exactly_the_predicted(
        cache: Path, tmp_path: Path) -> None:
    limit = 12
    path = answer_items(tmp_path / "items.jsonl", 40, limit)
    scored, correct, _ = _run_items("decoder-known", cache, path)
    assert (scored, correct) == (40, 40)
    predicted = predicted_failures(path, limit)  # from the map alone (known_folder.py)
    scored, correct, failed = _run_items("decoder-known-perturbed", cache, path)
    assert scored == 40 and failed == predicted
    assert correct == 40 - len(predicted) and 5 < len(predicted) < 35


# ---- text: a real tokenizer.json ------------------------------------------------------------------

SENTENCES = ["The cat sat on the mat.", "What is twelve plus thirty? It is 42.",
             "Energy per token matters more than tokens per second.", "A fleet of GPUs, measured honestly."]


def _trained_bpe(path: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["[UNK]", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(SENTENCES * 4, trainer)
    tok.save(str(path))


def test_trained_tokenizer_round_trips_real_text(tmp_path: Path) -> None:
    _trained_bpe(tmp_path / "tokenizer.json")
    (tmp_path / "model.onnx").write_bytes(b"")
    tok = TextTokenizer.beside(tmp_path / "model.onnx")
    assert tok is not None and tok.vocab_size <= SPEC.vocab
    for text in [*SENTENCES, "Unseen words: naïve café, 1,234.5 J/token!", "  two  spaces\nand a newline"]:
        ids = tok.encode(text)
        assert ids and all(0 <= i < tok.vocab_size for i in ids)
        assert tok.decode(ids) == text
    assert len(tok.encode(SENTENCES[0])) < len(SENTENCES[0].encode())  # merges learnt from the sentences
    assert TextTokenizer.beside(tmp_path / "elsewhere" / "model.onnx") is None
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "tokenizer.json").write_text('{"version": "1.0", "model": 3}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad/tokenizer.json: not a tokenizer.json the `tokenizers` library"):
        TextTokenizer.beside(tmp_path / "bad" / "model.onnx")


def test_text_prompts_give_the_known_answers_through_the_pieces(cache: Path, tmp_path: Path) -> None:
    """The text folder (known_folder.py) piece by piece: tokenise, generate stopping at the EOS that
    config.json names, grade. The same folder runs through `wattfleet bench` and an agent elsewhere."""
    model_dir = text_folder(tmp_path / "known", cache)
    tok = TextTokenizer.beside(model_dir / "model.onnx")
    assert tok is not None
    eos = find_eos(model_dir / "model.onnx", tokenizer=tok)
    assert eos.ids == (SPEC.eos,) and eos.source == f"eos_token_id in {model_dir / 'config.json'}"
    items = load_items(model_dir / "questions.jsonl")
    runner = _runner("model.onnx", cache, (model_dir,))
    try:
        prompts = prepare(items, tok, default_max_output_tokens=10, vocab_size=runner.vocab_size,  # type: ignore[attr-defined]
                          max_context=runner.max_context, model_name=str(model_dir / "model.onnx"))  # type: ignore[attr-defined]
        assert runner.eos_token_ids == eos.ids  # type: ignore[attr-defined]  # one reader: the runner's own
        outputs = [runner.generate([list(p.ids)], p.max_output_tokens, eos_token_id=eos.ids)[0]  # type: ignore[attr-defined]
                   for p in prompts]
    finally:
        runner.close()  # type: ignore[attr-defined]
    grader = Grader(items, ScorerSpec("last-number"), tok, eos.ids)
    graded = [grader.grade(p.item, out) for p, out in zip(prompts, outputs, strict=True)]
    assert [g.text for g in graded] == ["the answer is 42 .", "makes 8 in total", "makes 8 in total"]
    assert [g.correct for g in graded] == [q[3] for q in QUESTIONS.values()]
    assert len(outputs[0]) == MUL_ANSWER_TOKENS and outputs[0][-1] == SPEC.eos  # stopped at EOS, not at 10


def test_find_eos_reads_each_source_in_order(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    assert find_eos(model).ids == ()
    assert find_eos(model, {"eos_token_id": "5,9"}).ids == (5, 9)
    word_tokenizer(tmp_path / "tokenizer.json", {"[UNK]": 0, "hi": 2})
    tok = TextTokenizer.beside(model)
    assert tok is not None
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"eos_token": {"content": "</s>"}}), encoding="utf-8")
    assert find_eos(model, {"eos_token_id": "5"}, tok) == find_eos(model, None, tok)
    assert find_eos(model, None, tok).ids == (tok.token_id("</s>"),)
    (tmp_path / "config.json").write_text(json.dumps({"eos_token_id": [7, 8, 7]}), encoding="utf-8")
    assert find_eos(model, None, tok).ids == (7, 8)
    (tmp_path / "generation_config.json").write_text('{"eos_token_id": 3}', encoding="utf-8")
    generation = tmp_path / "generation_config.json"
    assert find_eos(model, None, tok).to_dict() == {"ids": [3], "source": f"eos_token_id in {generation}"}
    # config.json and generation_config.json have one reader, the runner's: find_eos takes what it read
    assert find_eos(model, None, tok, read_export_config(model)) == find_eos(model, None, tok)
    nothing_beside = read_export_config(tmp_path / "x" / "m.onnx")
    assert find_eos(model, {"eos_token_id": "5"}, None, export=nothing_beside).ids == (5,)
    generation.write_text('{"eos_token_id": "3"}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"generation_config.json: eos_token_id '3' is not a token id"):
        find_eos(model)
    generation.write_text('{\n  "eos_token_id": 3,\n}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"generation_config.json: not valid JSON"):
        find_eos(model)
