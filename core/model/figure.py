"""A figure as METRICS.md defines it: one shape for latency, throughput, energy and task figures."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One named value with its unit, energy domain ("" for latency) and the definition it follows.

    `value` is None when the figure could not be computed (e.g. a domain without data in the window): the
    figure is still listed, so its absence is said, not hidden.
    """

    name: str
    value: float | None
    unit: str = ""
    domain: str = ""
    definition: str = ""
    low_confidence: bool = False

    @property
    def key(self) -> str:
        """`name` for latency figures, `name[domain]` for energy figures: unique within one record."""
        return f"{self.name}[{self.domain}]" if self.domain else self.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "domain": self.domain,
            "definition": self.definition,
            "low_confidence": self.low_confidence,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Figure:
        value = d.get("value")
        return cls(
            name=str(d["name"]),
            value=None if value is None else float(value),
            unit=str(d.get("unit") or ""),
            domain=str(d.get("domain") or ""),
            definition=str(d.get("definition") or ""),
            low_confidence=bool(d.get("low_confidence", False)),
        )

    def with_low_confidence(self) -> Figure:
        return Figure(self.name, self.value, self.unit, self.domain, self.definition, True)


def find_figure(figures: Iterable[Figure], name: str, domain: str = "") -> Figure | None:
    """The first figure called `name` (in `domain`, when given), or None."""
    for f in figures:
        if f.name == name and (not domain or f.domain == domain):
            return f
    return None


def figure_value(figures: Iterable[Figure], name: str, domain: str = "") -> float | None:
    """The value of the first figure called `name` (in `domain`, when given), or None."""
    f = find_figure(figures, name, domain)
    return None if f is None else f.value
