"""Per-item scorers: is this output a correct answer to this item? Pure (re and decimal only).

    exact        output == expected (text: both stripped of surrounding whitespace unless strip = false;
                 ids: the same token ids)
    contains     expected occurs in the output (text: as a substring; ids: as a contiguous run of ids)
    regex        the item's expected is a Python regular expression; correct when re.search finds it
    last-number  the last number in the output equals the expected number (text only; NUMBER below)

Outputs are cut at the first end-of-sequence id before scoring (the EOS itself is not part of the answer).
With case_sensitive = false, text is compared after str.casefold().

NUMBER: an optional sign (+ or -, counted only when no letter or digit stands right before it), then
digits, where a comma may separate groups of exactly three ("1,234,567"), then optionally a point and
more digits ("3.25"). A number does not start right after a digit or a point. Values are compared as
exact decimals, so "1,000.50" equals 1000.5 and "3.0" equals 3. Not recognised: ".5" (write 0.5),
exponents ("1e3" reads as 1 then 3), other scripts' digits and minus signs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

SCORERS = ("exact", "contains", "regex", "last-number")
ON = ("text", "ids")
TEXT_ONLY = ("regex", "last-number")

NUMBER = re.compile(r"(?<![\d.])(?:(?<![0-9A-Za-z])([+-]))?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?!\d)")


@dataclass(frozen=True)
class ScorerSpec:
    """`[task]` of a profile: which scorer, on decoded text or on token ids, how text is compared."""

    scorer: str = ""  # "" = no scoring
    on: str = "text"
    case_sensitive: bool = True
    strip: bool = True

    def __post_init__(self) -> None:
        if self.scorer and self.scorer not in SCORERS:
            raise ValueError(f"scorer must be one of {SCORERS}, got {self.scorer!r}")
        if self.on not in ON:
            raise ValueError(f"on must be one of {ON}, got {self.on!r}")
        if self.on == "ids" and self.scorer in TEXT_ONLY:
            raise ValueError(f"scorer {self.scorer!r} needs on = 'text'")


def last_number(text: str) -> Decimal | None:
    """The last NUMBER in `text` (module docstring), or None when it holds none."""
    matches = list(NUMBER.finditer(text))
    if not matches:
        return None
    found = matches[-1]
    sign, whole, frac = found.group(1) or "", found.group(2).replace(",", ""), found.group(3)
    return Decimal(f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}")


def expected_number(expected: str | int | float) -> Decimal | None:
    """The number an item expects: a JSON number as written, or the last NUMBER of a text answer."""
    if isinstance(expected, str):
        return last_number(expected)
    return Decimal(str(expected))


def cut_at_eos(ids: Sequence[int], eos_ids: Sequence[int]) -> list[int]:
    """The output up to (not including) its first end-of-sequence id."""
    stops = set(eos_ids)
    for i, t in enumerate(ids):
        if t in stops:
            return list(ids[:i])
    return list(ids)


def _contains_run(haystack: Sequence[int], needle: Sequence[int]) -> bool:
    n = len(needle)
    return any(list(haystack[i:i + n]) == list(needle) for i in range(len(haystack) - n + 1))


def _norm(spec: ScorerSpec, text: str) -> str:
    text = text.strip() if spec.strip else text
    return text if spec.case_sensitive else text.casefold()


def score_text(spec: ScorerSpec, output: str, expected: str | int | float,
               pattern: re.Pattern[str] | None = None) -> bool:
    """One text answer. For regex, pass the compiled pattern (compile_pattern) to avoid recompiling."""
    if spec.scorer == "last-number":
        want = expected_number(expected)
        got = last_number(output)
        return want is not None and got is not None and got == want
    if spec.scorer == "regex":
        compiled = pattern or compile_pattern(spec, str(expected))
        return compiled.search(output) is not None
    want_text, got_text = _norm(spec, str(expected)), _norm(spec, output)
    if spec.scorer == "exact":
        return got_text == want_text
    if spec.scorer == "contains":
        return want_text in got_text
    raise ValueError(f"no scorer {spec.scorer!r}")


def score_ids(spec: ScorerSpec, output: Sequence[int], expected: Sequence[int]) -> bool:
    """One answer as token ids (already cut at EOS)."""
    if spec.scorer == "exact":
        return list(output) == list(expected)
    if spec.scorer == "contains":
        return _contains_run(output, expected)
    raise ValueError(f"scorer {spec.scorer!r} does not work on token ids")


def compile_pattern(spec: ScorerSpec, expected: str) -> re.Pattern[str]:
    """The regex of one item; raises re.error, which the caller turns into a file:line message."""
    return re.compile(expected, 0 if spec.case_sensitive else re.IGNORECASE)


def answer_agreement(a: Sequence[str | Sequence[int]], b: Sequence[str | Sequence[int]],
                     spec: ScorerSpec) -> float:
    """Share of items whose answers agree between two models (model against model, no expected needed).

    last-number: the same last number (both None counts as agreeing); otherwise the exact rule."""
    if len(a) != len(b):
        raise ValueError(f"answers for {len(a)} and {len(b)} items cannot be compared")
    if not a:
        return 1.0
    same = 0
    for x, y in zip(a, b, strict=True):
        if isinstance(x, str) and isinstance(y, str):
            if spec.scorer == "last-number":
                same += last_number(x) == last_number(y)
            else:
                same += _norm(spec, x) == _norm(spec, y)
        else:
            same += list(x) == list(y)
    return same / len(a)
