"""The `/` filter language: words and simple comparisons, joined by `&`. Pure.

    edge                      a word: found in the host's name, device, provider, state or labels
    power>300                 a number compared (>, >=, <, <=, =, !=); hosts without the value never match
    host~=edge                a regular expression searched in the field (case-insensitive)
    tokens_per_j<2 & rack=2   every term must hold
    !stale                    a leading ! negates a term

Fields are the HostRow fields (host, device, provider, state, power, tokens_per_s, tokens_per_j,
j_per_token, domain, source, valid, labels, power_<kind>) and each label by its name (or label.NAME).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from wattfleet.core.errors import UsageError

FieldValue = str | float | None
_OPS = (">=", "<=", "!=", "~=", "==", ">", "<", "=")
_TERM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(>=|<=|!=|~=|==|>|<|=)\s*(.*?)\s*$")
KNOWN_FIELDS = ("host", "device", "provider", "state", "power", "tokens_per_s", "tokens_per_j", "j_per_token",
                "domain", "source", "valid", "labels")


class FilterError(UsageError):
    """A filter that cannot be read; the message says which term and why."""


@dataclass(frozen=True)
class Term:
    field: str  # "" for a bare word
    op: str
    value: str
    negate: bool = False
    pattern: re.Pattern[str] | None = None

    def matches(self, fields: Mapping[str, FieldValue], text: str) -> bool:
        return self._matches(fields, text) != self.negate

    def _matches(self, fields: Mapping[str, FieldValue], text: str) -> bool:
        if not self.field:
            return self.value.lower() in text
        if self.field not in fields:
            return False
        got = fields[self.field]
        if got is None:
            return False
        if self.op == "~=":
            assert self.pattern is not None
            return self.pattern.search(str(got)) is not None
        number = _number(self.value)
        if isinstance(got, float | int) and number is not None:
            return _compare(float(got), self.op, number)
        if self.op in ("=", "=="):
            return str(got).lower() == self.value.lower()
        if self.op == "!=":
            return str(got).lower() != self.value.lower()
        return _compare_text(str(got).lower(), self.op, self.value.lower())


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _compare(a: float, op: str, b: float) -> bool:
    ops: dict[str, Callable[[float, float], bool]] = {
        ">": lambda x, y: x > y, ">=": lambda x, y: x >= y, "<": lambda x, y: x < y, "<=": lambda x, y: x <= y,
        "=": lambda x, y: x == y, "==": lambda x, y: x == y, "!=": lambda x, y: x != y,
    }
    return ops[op](a, b)


def _compare_text(a: str, op: str, b: str) -> bool:
    return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}.get(op, False)


@dataclass(frozen=True)
class Filter:
    """A parsed filter; the empty filter matches everything."""

    source: str
    terms: tuple[Term, ...]

    def matches(self, fields: Mapping[str, FieldValue], text: str = "") -> bool:
        return all(t.matches(fields, text) for t in self.terms)

    def unknown_fields(self, known: set[str]) -> list[str]:
        return sorted({t.field for t in self.terms if t.field and t.field not in known})


def parse_filter(source: str) -> Filter:
    """Parse `source`; raises FilterError naming the bad term."""
    terms: list[Term] = []
    for raw in source.split("&"):
        part = raw.strip()
        if not part:
            if source.strip():
                raise FilterError(f"filter {source!r}: an empty term around '&'; write a & b")
            continue
        negate = part.startswith("!")
        if negate:
            part = part[1:].strip()
        m = _TERM.match(part)
        if m is None:
            if any(op in part for op in _OPS):
                raise FilterError(f"filter term {part!r}: expected FIELD OP VALUE, e.g. power>300 or host~=edge")
            if not part:
                raise FilterError(f"filter {source!r}: '!' needs a term after it")
            terms.append(Term("", "", part, negate))
            continue
        name, op, value = m.group(1), m.group(2), m.group(3)
        if not value:
            raise FilterError(f"filter term {part!r}: no value after {op!r}")
        pattern = None
        if op == "~=":
            try:
                pattern = re.compile(value, re.IGNORECASE)
            except re.error as exc:
                raise FilterError(f"filter term {part!r}: not a regular expression ({exc})") from None
        elif op in (">", ">=", "<", "<=") and _number(value) is None:
            raise FilterError(f"filter term {part!r}: {op} needs a number, got {value!r}")
        terms.append(Term(name, op, value, negate, pattern))
    return Filter(source, tuple(terms))
