"""Scorers (exact, contains, regex, last-number; text and ids), grading, and the success figures."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wattfleet.agent.figures.success import Success, success_figures, tally, wilson_interval
from wattfleet.agent.workloads.traffic.items import load_items
from wattfleet.agent.workloads.traffic.scorers import (
    ScorerSpec,
    answer_agreement,
    cut_at_eos,
    last_number,
    score_ids,
    score_text,
)
from wattfleet.agent.workloads.traffic.task import Grader
from wattfleet.core.errors import ConfigError
from wattfleet.core.model import Figure


@pytest.mark.parametrize(("text", "number"), [
    ("The answer is 42.", "42"),
    ("12 apples and 30 pears make 42 fruit", "42"),
    ("x = -5", "-5"),
    ("from 3-5 items", "5"),  # a minus right after a digit is a dash, not a sign
    ("total: +7", "7"),
    ("It costs $1,234,567.50 in all", "1234567.5"),
    ("pi is about 3.14159", "3.14159"),
    ("1, 2, 3", "3"),
    ("1,23", "23"),  # a comma that does not separate thousands ends the number
    ("version 1.2.3", "1.2"),  # a number does not start right after a point
    ("#### 72", "72"),
    ("x2", "2"),
    ("no digits here", None),
    ("", None),
])
def test_last_number_follows_its_stated_grammar(text: str, number: str | None) -> None:
    got = last_number(text)
    assert got == (None if number is None else Decimal(number))


@given(st.decimals(min_value=-10**9, max_value=10**9, places=3, allow_nan=False, allow_infinity=False),
       st.booleans(), st.sampled_from(["The answer is {}.", "{}", "so: {} !", "x\n{}\n"]))
def test_last_number_reads_back_what_was_written(value: Decimal, commas: bool, frame: str) -> None:
    written = f"{value:,f}" if commas else f"{value:f}"
    assert last_number("first 17 then " + frame.format(written)) == value


def test_text_scorers() -> None:
    exact = ScorerSpec("exact")
    assert score_text(exact, "  Paris\n", "Paris")
    assert not score_text(exact, "paris", "Paris")
    assert score_text(ScorerSpec("exact", case_sensitive=False), "paris", "Paris")
    assert not score_text(ScorerSpec("exact", strip=False), "Paris ", "Paris")
    contains = ScorerSpec("contains")
    assert score_text(contains, "I think it is Paris, France", "Paris")
    assert not score_text(contains, "I think it is Lyon", "Paris")
    regex = ScorerSpec("regex")
    assert score_text(regex, "answer: B) blue", r"\bB\)")
    assert not score_text(regex, "answer: C) red", r"\bB\)")
    number = ScorerSpec("last-number")
    assert score_text(number, "12 + 30 = 42", "42")
    assert score_text(number, "so 1,000.50 dollars", 1000.5)
    assert score_text(number, "it is 3.0", 3)
    assert not score_text(number, "12 + 30 = 41", 42)
    assert not score_text(number, "I don't know", 42)


def test_id_scorers_and_eos_cut() -> None:
    assert cut_at_eos([5, 6, 2, 7, 2], [2]) == [5, 6]
    assert cut_at_eos([5, 6], [2, 9]) == [5, 6]
    assert cut_at_eos([9, 5], [2, 9]) == []
    assert score_ids(ScorerSpec("exact", on="ids"), [5, 6], [5, 6])
    assert not score_ids(ScorerSpec("exact", on="ids"), [5, 6, 7], [5, 6])
    assert score_ids(ScorerSpec("contains", on="ids"), [1, 5, 6, 7], [5, 6])
    assert not score_ids(ScorerSpec("contains", on="ids"), [5, 1, 6], [5, 6])
    with pytest.raises(ValueError, match="needs on = 'text'"):
        ScorerSpec("last-number", on="ids")


def test_answer_agreement_model_against_model() -> None:
    spec = ScorerSpec("last-number")
    assert answer_agreement(["= 42", "it is 7", "none"], ["42.", "7.0", "nothing"], spec) == 1.0
    assert answer_agreement(["= 42", "7"], ["41", "7"], spec) == 0.5
    assert answer_agreement([[1, 2], [3]], [[1, 2], [4]], ScorerSpec("exact", on="ids")) == 0.5


class _Letters:
    """A decoder with the real call shape: id k decodes to the k-th letter, no spaces."""

    def decode(self, ids: list[int], *, skip_special_tokens: bool = True) -> str:
        return "".join(chr(ord("a") + i) for i in ids)


def test_grader_checks_answers_up_front_with_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "i.jsonl"
    f.write_text('{"prompt_ids": [1], "expected": "ab"}\n{"prompt_ids": [2], "expected": "[unclosed"}\n',
                 encoding="utf-8")
    with pytest.raises(ConfigError, match=r"i.jsonl:2: expected is not a valid regular expression"):
        Grader(load_items(f), ScorerSpec("regex"), _Letters(), [25])
    f.write_text('{"prompt_ids": [1], "expected": "no number"}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"i.jsonl:1: expected 'no number' holds no number"):
        Grader(load_items(f), ScorerSpec("last-number"), _Letters(), [25])
    f.write_text('{"prompt_ids": [1], "expected": "ab"}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"i.jsonl:1: expected must be token ids \(a list\) when task.on = 'ids'"):
        Grader(load_items(f), ScorerSpec("exact", on="ids"), None, [25])
    with pytest.raises(ConfigError, match=r"i.jsonl: task.on = 'text' needs .* no tokenizer.json beside m.onnx"):
        Grader(load_items(f), ScorerSpec("exact"), None, [25], model_name="m.onnx")
    f.write_text('{"prompt_ids": [1]}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"i.jsonl: no item has an expected answer"):
        Grader(load_items(f), ScorerSpec("exact"), _Letters(), [25])


def test_grader_cuts_at_eos_then_scores(tmp_path: Path) -> None:
    f = tmp_path / "i.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in [
        {"id": "a", "prompt_ids": [1], "expected": "abc"},
        {"id": "b", "prompt_ids": [1], "expected": "abc"},
        {"id": "c", "prompt_ids": [1]}]) + "\n", encoding="utf-8")
    items = load_items(f)
    grader = Grader(items, ScorerSpec("exact"), _Letters(), eos_ids=[25])
    right = grader.grade(items.items[0], [0, 1, 2, 25, 7, 7])
    wrong = grader.grade(items.items[1], [0, 1, 2, 3])
    unscored = grader.grade(items.items[2], [4, 25])
    assert (right.correct, right.text, right.answer_ids) == (True, "abc", (0, 1, 2))
    assert (wrong.correct, wrong.text) == (False, "abcd")
    assert (unscored.correct, unscored.text) == (None, "e")


# ---- success --------------------------------------------------------------------------------------


def test_wilson_interval_equals_scipys() -> None:
    stats = pytest.importorskip("scipy.stats", reason="scipy (the dev extra) checks the Wilson interval")
    for n in (1, 2, 5, 10, 31, 32, 100, 263, 1000):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n} & set(range(n + 1))):
            ref = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
            low, high = wilson_interval(k, n)
            assert low == pytest.approx(ref.low, abs=1e-12), (k, n)
            assert high == pytest.approx(ref.high, abs=1e-12), (k, n)
    ref99 = stats.binomtest(81, 263).proportion_ci(confidence_level=0.99, method="wilson")
    assert wilson_interval(81, 263, 0.99) == pytest.approx((ref99.low, ref99.high), abs=1e-12)


def test_tally_counts_scored_correct_and_window() -> None:
    s = tally([(True, True), (True, False), (False, True), (None, True), (True, True)], "exact", "text")
    assert (s.scored, s.correct, s.unscored, s.correct_in_window) == (4, 3, 1, 2)
    assert s.rate == 0.75
    block = s.to_dict()
    assert (block["ci_method"], block["confidence"]) == ("wilson", 0.95)
    assert block["ci_low"] < 0.75 < block["ci_high"]


def _figures(success: Success, window_s: float, energy: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """success_figures on energy figures given as dicts, answered as dicts (the record's JSON form)."""
    return [f.to_dict() for f in success_figures(success, window_s, [Figure.from_dict(e) for e in energy])]


def _energy(domain: str, energy_j: float | None, low: bool = False, estimate: bool = False) -> dict[str, Any]:
    prefix = "ESTIMATE from CPU utilisation x TDP, not a measurement: " if estimate else ""
    return {"name": "energy_j", "value": energy_j, "unit": "J", "domain": domain,
            "definition": prefix + "energy of the domain", "low_confidence": low}


def test_success_figures_per_domain() -> None:
    s = Success("last-number", "text", scored=40, correct=30, unscored=0, correct_in_window=25)
    figs = _figures(s, 5.0, [_energy("gpu-board:0", 100.0), _energy("estimated", 40.0, estimate=True),
                                    {"name": "power_avg_w", "value": 20.0, "unit": "W", "domain": "gpu-board:0",
                                     "definition": "", "low_confidence": False}])
    by = {(f["name"], f["domain"]): f for f in figs}
    assert by[("success_rate", "")]["value"] == 0.75
    assert by[("success_rate_ci_low", "")]["value"] == pytest.approx(wilson_interval(30, 40)[0])
    assert by[("correct_per_s", "")]["value"] == 5.0  # 25 correct in the window / 5 s
    gpu = by[("j_per_correct", "gpu-board:0")]
    assert (gpu["value"], gpu["unit"], gpu["low_confidence"]) == (4.0, "J/correct", False)
    est = by[("j_per_correct", "estimated")]
    assert est["value"] == 1.6 and est["low_confidence"] and est["definition"].startswith("ESTIMATE")
    assert len([f for f in figs if f["name"] == "j_per_correct"]) == 2


def test_zero_correct_gives_none_and_says_why() -> None:
    s = Success("exact", "ids", scored=50, correct=0, unscored=0, correct_in_window=0)
    figs = _figures(s, 2.0, [_energy("cpu-package", 10.0)])
    jpc = next(f for f in figs if f["name"] == "j_per_correct")
    assert jpc["value"] is None and jpc["low_confidence"]
    assert "no correct answer in the window" in jpc["definition"]
    assert next(f for f in figs if f["name"] == "correct_per_s")["value"] == 0.0
    assert next(f for f in figs if f["name"] == "success_rate_ci_low")["value"] == 0.0
    assert _figures(Success("exact", "ids", 0, 0, 5, 0), 2.0, [_energy("cpu-package", 10.0)]) == []


def test_few_scored_or_weak_energy_is_low_confidence() -> None:
    few = _figures(Success("exact", "ids", 10, 9, 0, 9), 1.0, [_energy("cpu-package", 3.0)])
    assert all(f["low_confidence"] for f in few)
    many = _figures(Success("exact", "ids", 64, 60, 0, 60), 1.0,
                           [_energy("cpu-package", 3.0, low=True), _energy("gpu-board:0", None)])
    jpc = {f["domain"]: f for f in many if f["name"] == "j_per_correct"}
    assert jpc["cpu-package"]["low_confidence"] and jpc["cpu-package"]["value"] == 0.05
    assert jpc["gpu-board:0"]["value"] is None
    assert not next(f for f in many if f["name"] == "success_rate")["low_confidence"]
