"""Grading one request: the item's expected answer checked against the model's output by the [task] scorer.

`Grader` validates every item's expected answer for the scorer before a run starts (a regex that does
not compile, a last-number answer with no number, text where ids are scored: one line naming file:line),
then grades outputs from worker threads (it holds no mutable state).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from wattfleet.agent.workloads.traffic.items import Item, ItemFile
from wattfleet.agent.workloads.traffic.scorers import (
    ScorerSpec,
    compile_pattern,
    cut_at_eos,
    expected_number,
    score_ids,
    score_text,
)
from wattfleet.core.errors import ConfigError


class Decoder(Protocol):
    def decode(self, ids: Sequence[int], *, skip_special_tokens: bool = True) -> str: ...


@dataclass(frozen=True)
class Graded:
    """One request's answer: correct None when the item has no expected answer (or nothing is scored)."""

    item_id: str
    correct: bool | None
    answer_ids: tuple[int, ...]  # output cut at the first EOS id
    text: str | None  # decoded answer, when a tokenizer is there

    def to_dict(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "correct": self.correct, "n_answer": len(self.answer_ids),
                "text": self.text}


class Grader:
    def __init__(self, items: ItemFile, spec: ScorerSpec, tokenizer: Decoder | None, eos_ids: Sequence[int],
                 *, model_name: str = "the model") -> None:
        self.spec = spec
        self.tokenizer = tokenizer
        self.eos_ids = tuple(eos_ids)
        self._patterns: dict[str, re.Pattern[str]] = {}
        if not spec.scorer:
            return
        if spec.on == "text" and tokenizer is None:
            raise ConfigError(f"{items.path}: task.on = 'text' needs the answers as text, but there is no "
                              f"tokenizer.json beside {model_name}; put it there, or score on = 'ids' with "
                              "expected token ids")
        scored = 0
        for item in items.items:
            if item.expected is None:
                continue
            scored += 1
            self._check(items, item)
        if not scored:
            raise ConfigError(f"{items.path}: no item has an expected answer, so task.scorer = "
                              f"{spec.scorer!r} has nothing to score; add \"expected\" to the items")

    def _check(self, items: ItemFile, item: Item) -> None:
        where, exp = items.where(item), item.expected
        if self.spec.on == "ids":
            if not isinstance(exp, tuple):
                raise ConfigError(f"{where}: expected must be token ids (a list) when task.on = 'ids', got {exp!r}")
            return
        if isinstance(exp, tuple):
            raise ConfigError(f"{where}: expected is token ids, but task.on = 'text'; write the answer as text "
                              "or score on = 'ids'")
        assert exp is not None
        if self.spec.scorer == "last-number" and expected_number(exp) is None:
            raise ConfigError(f"{where}: expected {exp!r} holds no number for the last-number scorer")
        if self.spec.scorer == "regex":
            if not isinstance(exp, str):
                raise ConfigError(f"{where}: expected must be a regular expression (text) for the regex scorer")
            try:
                self._patterns[item.item_id] = compile_pattern(self.spec, exp)
            except re.error as exc:
                raise ConfigError(f"{where}: expected is not a valid regular expression ({exc})") from exc

    def grade(self, item: Item, output_ids: Sequence[int]) -> Graded:
        answer = cut_at_eos(output_ids, self.eos_ids)
        text = self.tokenizer.decode(answer) if self.tokenizer is not None else None
        if not self.spec.scorer or item.expected is None:
            return Graded(item.item_id, None, tuple(answer), text)
        if self.spec.on == "ids":
            assert isinstance(item.expected, tuple)
            ok = score_ids(self.spec, answer, item.expected)
        else:
            assert text is not None and not isinstance(item.expected, tuple)
            ok = score_text(self.spec, text, item.expected, self._patterns.get(item.item_id))
        return Graded(item.item_id, ok, tuple(answer), text)
