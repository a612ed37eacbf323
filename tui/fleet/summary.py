"""Per-host rows, the fleet strip and per-profile summaries, folded from the fleet model. Pure.

Figures from different energy domains are never added together: fleet power is summed per domain kind,
and fleet tokens/J is given over measured domains, with estimated hosts counted apart.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from wattfleet.core.model import RunRecord, is_estimate
from wattfleet.tui.fleet.model import HostView

FieldValue = str | float | None


@dataclass(frozen=True)
class HostRow:
    """One line of the hosts table, with the fields the filter language and sort keys read."""

    key: str
    host: str
    labels: dict[str, str]
    device: str
    provider: str
    state: str  # the host's status, or its live run's state
    reason: str
    power_by_kind: dict[str, float]
    power_w: float | None  # the headline kind's power (METRICS.md order)
    power_kind: str
    tokens_per_s: float | None
    tokens_per_j: float | None
    tj_domain: str  # the domain tokens/J was measured in
    tj_low_confidence: bool
    valid: bool | None  # None: no run to judge
    validity_reason: str
    source: str

    def fields(self) -> dict[str, FieldValue]:
        """Names the filter language knows (labels too, by their own names unless they clash)."""
        out: dict[str, FieldValue] = {
            "host": self.host, "device": self.device, "provider": self.provider, "state": self.state,
            "power": self.power_w, "tokens_per_s": self.tokens_per_s, "tokens_per_j": self.tokens_per_j,
            "j_per_token": (1.0 / self.tokens_per_j) if self.tokens_per_j else None,
            "domain": self.tj_domain, "source": self.source,
            "valid": None if self.valid is None else ("yes" if self.valid else "no"),
            "labels": " ".join(f"{k}={v}" for k, v in sorted(self.labels.items())),
        }
        for kind, watts in self.power_by_kind.items():
            out[f"power_{kind.replace('-', '_')}"] = watts
        for k, v in self.labels.items():
            out.setdefault(k, v)
            out[f"label.{k}"] = v
        return out

    def text(self) -> str:
        """What a bare word in the filter is searched in."""
        return " ".join([self.host, self.device, self.provider, self.state, self.source, self.tj_domain,
                         *(f"{k}={v}" for k, v in self.labels.items())]).lower()


def host_row(host: HostView) -> HostRow:
    record = host.latest
    tj = record.headline("tokens_per_j") if record is not None else None
    headline = host.headline_power
    state: str = host.status
    if host.live_run is not None and host.status == "live":
        state = host.live_run.state
    valid: bool | None = None
    reason = ""
    if record is not None:
        valid = record.validity.valid and record.state == "completed"
        if record.state != "completed":
            reason = f"{record.state}: {record.error}" if record.error else record.state
        elif record.validity.reasons:
            reason = record.validity.reasons[0]
    return HostRow(
        key=host.key, host=host.label, labels=dict(host.labels), device=host.device, provider=host.provider,
        state=state, reason=host.reason, power_by_kind=host.power_by_kind() if host.reporting else {},
        power_w=headline[1] if headline and host.reporting else None,
        power_kind=headline[0] if headline and host.reporting else "",
        tokens_per_s=host.tokens_per_s, tokens_per_j=None if tj is None else tj.value,
        tj_domain="" if tj is None else tj.domain, tj_low_confidence=bool(tj and tj.low_confidence),
        valid=valid, validity_reason=reason, source=host.source,
    )


SORT_KEYS = ("host", "power", "tokens_per_j", "tokens_per_s", "state")


def sort_rows(rows: Iterable[HostRow], key: str, descending: bool = False) -> list[HostRow]:
    """Rows by one of SORT_KEYS; hosts without the value always last."""
    if key not in SORT_KEYS:
        raise ValueError(f"unknown sort key {key!r}; one of {', '.join(SORT_KEYS)}")
    present: list[HostRow] = []
    missing: list[HostRow] = []
    for row in rows:
        (missing if row.fields()[key] is None else present).append(row)
    present.sort(key=lambda r: (_sortable(r.fields()[key]), r.host), reverse=descending)
    missing.sort(key=lambda r: r.host)
    return present + missing


def _sortable(value: FieldValue) -> tuple[float, str]:
    return (float(value), "") if isinstance(value, float | int) else (0.0, str(value).lower())


def group_rows(rows: Sequence[HostRow], label: str) -> list[tuple[str, list[HostRow]]]:
    """Rows grouped by the value of one label, groups sorted; hosts without it last, as "(no <label>)"."""
    groups: dict[str, list[HostRow]] = {}
    for row in rows:
        groups.setdefault(row.labels.get(label, ""), []).append(row)
    out = [(value, groups[value]) for value in sorted(v for v in groups if v)]
    if "" in groups:
        out.append((f"(no {label})", groups[""]))
    return out


def label_keys(rows: Iterable[HostRow]) -> list[str]:
    return sorted({k for r in rows for k in r.labels})


@dataclass(frozen=True)
class FleetStrip:
    """The line on top of the fleet screen."""

    reporting: int
    total: int
    power_by_kind: dict[str, float]  # summed over reporting hosts, per domain kind
    tokens_per_j: float | None  # fleet tokens / fleet joules over measured (not estimated) headline domains
    measured_hosts: int
    estimated_tokens_per_j: float | None  # the same over hosts whose headline domain is an estimate
    estimated_hosts: int
    running: int
    problems: int  # hosts in error, unsupported or stale

    def text(self) -> str:
        parts = [f"{self.reporting} of {self.total} hosts reporting"]
        if self.tokens_per_j is not None:
            parts.append(f"fleet {self.tokens_per_j:.3g} tok/J measured ({self.measured_hosts} hosts)")
        if self.estimated_tokens_per_j is not None:
            parts.append(f"{self.estimated_tokens_per_j:.3g} tok/J estimated ({self.estimated_hosts})")
        if self.tokens_per_j is None and self.estimated_tokens_per_j is None:
            parts.append("fleet tok/J -")
        if self.running:
            parts.append(f"{self.running} running")
        if self.problems:
            parts.append(f"{self.problems} need attention")
        if self.power_by_kind:
            parts.append("power " + " ".join(f"{k} {w:.0f} W" for k, w in sorted(self.power_by_kind.items())))
        else:
            parts.append("power -")
        return " │ ".join(parts)


def _tokens_and_joules(record: RunRecord) -> tuple[float, float] | None:
    domain = record.headline_domain
    energy = record.figure("energy_j", domain) if domain else None
    tpj = record.figure("tokens_per_j", domain) if domain else None
    if energy is None or tpj is None or energy.value is None or tpj.value is None or not energy.value > 0:
        return None
    return tpj.value * energy.value, energy.value


def fleet_strip(hosts: Iterable[HostView]) -> FleetStrip:
    hosts = list(hosts)
    power: dict[str, float] = {}
    sums = {False: [0.0, 0.0, 0], True: [0.0, 0.0, 0]}  # estimated? -> tokens, joules, hosts
    for host in hosts:
        if host.reporting:
            for kind, watts in host.power_by_kind().items():
                power[kind] = power.get(kind, 0.0) + watts
        record = host.latest
        if record is None or record.state != "completed":
            continue
        tj = _tokens_and_joules(record)
        if tj is None:
            continue
        acc = sums[is_estimate(record.headline_domain)]
        acc[0] += tj[0]
        acc[1] += tj[1]
        acc[2] += 1

    def ratio(estimated: bool) -> float | None:
        tokens, joules, _n = sums[estimated]
        return tokens / joules if joules > 0 else None

    return FleetStrip(
        reporting=sum(1 for h in hosts if h.reporting), total=len(hosts), power_by_kind=power,
        tokens_per_j=ratio(False), measured_hosts=int(sums[False][2]),
        estimated_tokens_per_j=ratio(True), estimated_hosts=int(sums[True][2]),
        running=sum(1 for h in hosts if h.live_run is not None and h.reporting),
        problems=sum(1 for h in hosts if h.status in ("error", "unsupported", "stale")),
    )


@dataclass(frozen=True)
class ProfileSummary:
    """One profile across the fleet: how many hosts ran it and the spread of their headline tokens/J."""

    profile: str
    hosts: int
    valid: int
    median_tokens_per_j: float | None
    best_host: str
    domains: tuple[str, ...] = field(default=())


def profile_summaries(hosts: Iterable[HostView]) -> list[ProfileSummary]:
    by_profile: dict[str, list[tuple[str, RunRecord]]] = {}
    for host in hosts:
        for name, record in host.results.items():
            by_profile.setdefault(name, []).append((host.label, record))
    out: list[ProfileSummary] = []
    for name in sorted(by_profile):
        entries = by_profile[name]
        values = [(f.value, label) for label, r in entries
                  if (f := r.headline("tokens_per_j")) is not None and f.value is not None]
        out.append(ProfileSummary(
            profile=name, hosts=len(entries), valid=sum(1 for _l, r in entries if r.validity.valid),
            median_tokens_per_j=statistics.median(v for v, _ in values) if values else None,
            best_host=max(values)[1] if values else "",
            domains=tuple(sorted({r.headline_domain for _l, r in entries if r.headline_domain})),
        ))
    return out
