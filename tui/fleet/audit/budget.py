"""The power budget file: a fleet budget and optional group budgets keyed by a host label.

    fleet_w = 12000                 # the whole fleet, in watts (required)
    domain = "gpu-board"            # optional: which power the budget counts (see below)
    [group.rack.r1]                 # the hosts whose label rack = "r1"
    budget_w = 4000
    [group.device_model."NVIDIA H100 80GB HBM3"]
    budget_w = 6000

`domain` names a domain key ("gpu-board", "cpu-package", "soc-input", "wall", ...), or "headline" for
each host's own headline domain, which is a mixed total and is labelled as one. Left out, the budget
counts the hosts' headline domain when they all share one key, and says so when they do not.
Every error is one line naming the file and key.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wattfleet.core.errors import ConfigError
from wattfleet.core.tomlfile import read_toml
from wattfleet.tui.fleet.audit.model import AuditRun

HEADLINE = "headline"
BUILTIN_GROUP_KEYS = ("device_model",)  # attributes of a host that are not labels
_TOP_KEYS = ("fleet_w", "domain", "group")


@dataclass(frozen=True)
class GroupBudget:
    label: str  # "rack", "site", "device_model", ...
    value: str  # "r1"
    budget_w: float

    @property
    def name(self) -> str:
        return f"{self.label}={self.value}"


@dataclass(frozen=True)
class Budget:
    fleet_w: float
    groups: tuple[GroupBudget, ...] = ()
    domain: str = ""  # "" = the hosts' common headline key; HEADLINE = a labelled mixed total
    source: str = ""  # the file it came from, for messages


def host_attribute(run: AuditRun, label: str) -> str:
    """The value of a group key for the host of `run`: a label, or a built-in attribute."""
    if label == "device_model":
        return run.env.device_model or "unknown"
    return run.labels.get(label, "")


def _watts(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{where}: expected a number of watts, got {value!r}")
    if value < 0:
        raise ConfigError(f"{where}: a budget cannot be negative ({value:g} W); give the watts the group may draw")
    return float(value)


def parse_budget(doc: Mapping[str, Any], path: str) -> Budget:
    """Check a decoded budget document; errors name `path` and the key."""
    extra = sorted(set(doc) - set(_TOP_KEYS))
    if extra:
        raise ConfigError(f"{path}: unknown key {extra[0]!r}; a budget file holds fleet_w, domain and [group.*] tables")
    if "fleet_w" not in doc:
        raise ConfigError(f"{path}: fleet_w: missing; give the fleet's budget in watts, e.g. fleet_w = 12000")
    fleet_w = _watts(doc["fleet_w"], f"{path}: fleet_w")
    domain = doc.get("domain", "")
    if not isinstance(domain, str):
        raise ConfigError(f"{path}: domain: expected a domain such as \"gpu-board\" or \"headline\", got {domain!r}")
    groups: list[GroupBudget] = []
    tables = doc.get("group", {})
    if not isinstance(tables, Mapping):
        raise ConfigError(f"{path}: group: expected tables such as [group.rack.r1] with budget_w = ...")
    for label, values in tables.items():
        if not isinstance(values, Mapping):
            raise ConfigError(f"{path}: group.{label}: expected tables such as [group.{label}.NAME] with budget_w")
        for value, table in values.items():
            where = f"{path}: group.{label}.{value}"
            if not isinstance(table, Mapping):
                raise ConfigError(f"{where}: expected a table with budget_w = WATTS")
            unknown = sorted(set(table) - {"budget_w"})
            if unknown:
                raise ConfigError(f"{where}: unknown key {unknown[0]!r}; a group table holds budget_w")
            if "budget_w" not in table:
                raise ConfigError(f"{where}.budget_w: missing; give this group's budget in watts")
            groups.append(GroupBudget(str(label), str(value), _watts(table["budget_w"], f"{where}.budget_w")))
    return Budget(fleet_w=fleet_w, groups=tuple(groups), domain=domain.strip(), source=path)


def load_budget(path: Path | str) -> Budget:
    """Read and check a budget file. Raises ConfigError naming the file and key."""
    path = Path(path)
    doc = read_toml(path, "budget", "--budget")
    return parse_budget(doc, str(path))


def check_groups(budget: Budget, runs: Iterable[AuditRun]) -> list[str]:
    """Raise for a group label no host carries; return notes for group values that match no host."""
    runs = list(runs)
    seen = {k for r in runs for k in r.labels}
    for g in budget.groups:
        if g.label not in seen and g.label not in BUILTIN_GROUP_KEYS:
            known = ", ".join(sorted(seen)) or "none"
            raise ConfigError(f"{budget.source}: group.{g.label}: no host carries the label {g.label!r} "
                              f"(labels on these hosts: {known}; built in: {', '.join(BUILTIN_GROUP_KEYS)})")
    notes = []
    for g in budget.groups:
        if not any(host_attribute(r, g.label) == g.value for r in runs):
            notes.append(f"{budget.source}: group.{g.label}.{g.value}: no host in these records has "
                         f"{g.label} = {g.value!r}")
    return notes


def group_members(budget: Budget, runs: Iterable[AuditRun]) -> dict[str, set[str]]:
    """Group name -> hosts in it. A host is in a group if any of its runs carries the group's value."""
    runs = list(runs)
    return {g.name: {r.host for r in runs if host_attribute(r, g.label) == g.value} for g in budget.groups}
