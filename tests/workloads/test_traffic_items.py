"""Items files: strict reading with file:line errors, tokenising, the seeded order and the record's block."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from wattfleet.agent.workloads.traffic.items import ItemOrder, items_ran, load_items, prepare
from wattfleet.core.errors import ConfigError


def _write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class _Words:
    """A stand-in encoder with the real call shape: one id per whitespace-separated word."""

    def encode(self, text: str) -> list[int]:
        return [len(w) for w in text.split()]


def test_items_read_with_every_field(tmp_path: Path) -> None:
    f = _write(tmp_path / "items.jsonl",
               json.dumps({"id": "q1", "prompt": "What is 12 + 30?", "expected": "42", "max_output_tokens": 8}),
               "",
               json.dumps({"prompt_ids": [5, 6, 7], "expected": [1, 2]}),
               json.dumps({"id": 7, "prompt_ids": [9], "expected": 3.5}))
    got = load_items(f)
    assert [i.item_id for i in got.items] == ["q1", "line:3", "7"]
    assert [i.line for i in got.items] == [1, 3, 4]
    first, second, third = got.items
    assert (first.prompt_text, first.expected, first.max_output_tokens) == ("What is 12 + 30?", "42", 8)
    assert (second.prompt_ids, second.expected, second.max_output_tokens) == ((5, 6, 7), (1, 2), None)
    assert third.expected == 3.5
    assert len(got.sha256) == 64


@pytest.mark.parametrize(("line", "message"), [
    ('{"prompt": "a", ', r"items.jsonl:2: not JSON \(.* at column \d+\); write one JSON object a line"),
    ('{"expected": "x"}', r"items.jsonl:2: item has neither prompt \(text\) nor prompt_ids \(token ids\)"),
    ('{"prompt": "a", "prompt_ids": [1]}', r"items.jsonl:2: item has both prompt and prompt_ids"),
    ('{"prompt": ""}', r"items.jsonl:2: prompt must be a non-empty string"),
    ('{"prompt_ids": []}', r"items.jsonl:2: prompt_ids must be a non-empty list"),
    ('{"prompt_ids": [1, -2]}', r"items.jsonl:2: prompt_ids must hold integers >= 0, got -2"),
    ('{"prompt_ids": [1, true]}', r"items.jsonl:2: prompt_ids must hold integers >= 0, got True"),
    ('{"prompt": "a", "max_output_tokens": 0}', r"items.jsonl:2: max_output_tokens must be an integer >= 1, got 0"),
    ('{"prompt": "a", "max_output_tokens": -3}', r"items.jsonl:2: max_output_tokens must be an integer >= 1"),
    ('{"prompt": "a", "max_output_tokens": 2.5}', r"items.jsonl:2: max_output_tokens must be an integer >= 1"),
    ('{"prompt": "a", "answer": "b"}', r"items.jsonl:2: unknown key 'answer'; expected id, prompt"),
    ('{"prompt": "a", "expected": {"x": 1}}', r"items.jsonl:2: expected must be text, a list of token ids or"),
    ('{"prompt": "a", "id": "first"}', r"items.jsonl:2: id 'first' is also on line 1; ids must be unique"),
    ('["prompt", "a"]', r"items.jsonl:2: expected a JSON object"),
])
def test_bad_line_is_refused_with_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    f = _write(tmp_path / "items.jsonl", '{"id": "first", "prompt": "ok"}', line, '{"prompt": "after"}')
    with pytest.raises(ConfigError, match=message):
        load_items(f)


def test_empty_missing_and_binary_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"empty.jsonl: no items \(every line is blank\)"):
        load_items(_write(tmp_path / "empty.jsonl", "", "  "))
    with pytest.raises(ConfigError, match=r"nope.jsonl: items file not found"):
        load_items(tmp_path / "nope.jsonl")
    (tmp_path / "bin.jsonl").write_bytes(b'{"prompt": "a"}\n{"prompt": "\xff"}\n')
    with pytest.raises(ConfigError, match=r"bin.jsonl:2: not UTF-8 text"):
        load_items(tmp_path / "bin.jsonl")


def test_text_prompt_without_tokenizer_names_file_line_and_model(tmp_path: Path) -> None:
    f = _write(tmp_path / "items.jsonl", '{"prompt_ids": [1, 2]}', '{"prompt": "hello there"}')
    items = load_items(f)
    with pytest.raises(ConfigError, match=r"items.jsonl:2: prompt is text, but there is no tokenizer.json beside "
                                          r"/m/model.onnx; .* or give prompt_ids"):
        prepare(items, None, default_max_output_tokens=4, vocab_size=100, max_context=64, model_name="/m/model.onnx")
    prompts = prepare(items, _Words(), default_max_output_tokens=4, vocab_size=100, max_context=64)
    assert [p.ids for p in prompts] == [(1, 2), (5, 5)]
    assert [p.max_output_tokens for p in prompts] == [4, 4]


def test_prepare_checks_vocabulary_and_context(tmp_path: Path) -> None:
    items = load_items(_write(tmp_path / "i.jsonl", '{"prompt_ids": [1, 2]}', '{"prompt_ids": [3, 99]}'))
    with pytest.raises(ConfigError, match=r"i.jsonl:2: token id 99 is outside the vocabulary of m \(50 ids\)"):
        prepare(items, None, default_max_output_tokens=4, vocab_size=50, max_context=64, model_name="m")
    long = load_items(_write(tmp_path / "l.jsonl", '{"prompt_ids": [1, 2, 3], "max_output_tokens": 6}'))
    with pytest.raises(ConfigError, match=r"l.jsonl:1: prompt of 3 tokens \+ 6 output tokens exceeds the context "
                                          r"of m \(8\)"):
        prepare(long, None, default_max_output_tokens=4, vocab_size=50, max_context=8, model_name="m")
    assert prepare(long, None, default_max_output_tokens=4, vocab_size=50, max_context=9)[0].max_output_tokens == 6


def test_seeded_order_is_a_fresh_permutation_each_pass_and_repeatable() -> None:
    order = ItemOrder(10, "seeded", seed=3)
    first = [order.index(n) for n in range(10)]
    second = [order.index(n) for n in range(10, 20)]
    assert sorted(first) == list(range(10)) and sorted(second) == list(range(10))
    assert first != list(range(10))
    assert first != second
    again = ItemOrder(10, "seeded", seed=3)
    assert [again.index(n) for n in range(19, -1, -1)] == (first + second)[::-1]  # any asking order
    assert [ItemOrder(10, "seeded", seed=4).index(n) for n in range(10)] != first
    assert [ItemOrder(4, "file").index(n) for n in range(9)] == [0, 1, 2, 3, 0, 1, 2, 3, 0]


def test_order_from_many_threads_equals_order_from_one() -> None:
    order = ItemOrder(50, "seeded", seed=1)
    got: dict[int, int] = {}
    lock = threading.Lock()

    def ask(start: int) -> None:
        for n in range(start, 400, 4):
            i = order.index(n)
            with lock:
                got[n] = i

    threads = [threading.Thread(target=ask, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fresh = ItemOrder(50, "seeded", seed=1)
    assert got == {n: fresh.index(n) for n in range(400)}


def test_items_ran_names_file_order_and_counts(tmp_path: Path) -> None:
    items = load_items(_write(tmp_path / "i.jsonl", *(json.dumps({"id": f"q{k}", "prompt_ids": [k]})
                                                      for k in range(3))))
    order = ItemOrder(3, "file")
    block = items_ran(items, order, query_indices=[2, 3, 4, 5, 6], warmup_indices=[0, 1])
    assert block["warmup_items"] == ["q0", "q1"]
    assert block["ran"] == ["q2", "q0", "q1"]
    assert block["counts"] == {"q2": 2, "q0": 2, "q1": 1}
    assert (block["n_items"], block["distinct"], block["order"], block["sha256"]) == (3, 3, "file", items.sha256)
