"""Per-host rows, the fleet strip and per-profile summaries, folded from the fleet model. Pure.

Figures from different energy domains are never added together: fleet power is summed per domain kind,
and fleet tokens/J is pooled per headline domain kind (gpu-board, soc-input, ...), estimated hosts apart.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from wattfleet.core.model import RunRecord, domain_kind, is_estimate
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
    success_rate: float | None = None  # task success of the latest run, where it scored answers (issue 13)
    success_ci: tuple[float, float] | None = None  # its 95% interval
    j_per_correct: float | None = None  # in tj_domain, the headline domain

    def fields(self) -> dict[str, FieldValue]:
        """Names the filter language knows (labels too, by their own names unless they clash)."""
        out: dict[str, FieldValue] = {
            "host": self.host, "device": self.device, "provider": self.provider, "state": self.state,
            "power": self.power_w, "tokens_per_s": self.tokens_per_s, "tokens_per_j": self.tokens_per_j,
            "j_per_token": (1.0 / self.tokens_per_j) if self.tokens_per_j else None,
            "domain": self.tj_domain, "source": self.source,
            "success": self.success_rate, "j_per_correct": self.j_per_correct,
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
    elif host.activity and host.activity != "idle" and host.status == "live":
        state = host.activity
    valid: bool | None = None
    reason = ""
    if record is not None:
        valid = record.validity.valid and record.state == "completed"
        if record.state != "completed":
            reason = f"{record.state}: {record.error}" if record.error else record.state
        elif record.validity.reasons:
            reason = record.validity.reasons[0]
    tj_value, tj_domain = (None, "") if tj is None else (tj.value, tj.domain)
    window = host.window.headline if host.window is not None and tj_value is None else None
    if window is not None and host.window is not None:  # no run record: the counters' tokens/J, said as such
        tj_value, tj_domain = window[1], f"{window[0]}, {host.window.label}"
    task = record.task if record is not None else None
    ci = (task.ci_low, task.ci_high) if task is not None and task.ci_low is not None and task.ci_high is not None \
        else None
    jpc = record.headline("j_per_correct") if record is not None else None
    return HostRow(
        key=host.key, host=host.label, labels=dict(host.labels), device=host.device, provider=host.provider,
        state=state, reason=host.reason, power_by_kind=host.power_by_kind() if host.reporting else {},
        power_w=headline[1] if headline and host.reporting else None,
        power_kind=headline[0] if headline and host.reporting else "",
        tokens_per_s=host.tokens_per_s, tokens_per_j=tj_value,
        tj_domain=tj_domain, tj_low_confidence=bool(tj and tj.low_confidence),
        valid=valid, validity_reason=reason, source=host.source,
        success_rate=task.success_rate if task is not None else None, success_ci=ci,
        j_per_correct=jpc.value if jpc is not None else None,
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
class KindTokens:
    """Fleet tokens/J in one headline domain kind: total tokens over total joules of its hosts' latest runs."""

    kind: str
    tokens_per_j: float
    hosts: int


@dataclass(frozen=True)
class FleetStrip:
    """The line on top of the fleet screen."""

    reporting: int
    total: int
    power_by_kind: dict[str, float]  # summed over reporting hosts, per domain kind
    tokens_per_j: tuple[KindTokens, ...]  # per measured headline kind (most hosts first); never pooled across
    estimated: KindTokens | None  # hosts whose headline domain is an estimate, apart
    running: int
    problems: int  # hosts in error, unsupported or stale
    window: str = ""  # "last 5m" when some host's tokens/J comes from counters (a Prometheus source)

    def kind(self, kind: str) -> KindTokens | None:
        return next((k for k in self.tokens_per_j if k.kind == kind), None)

    def tokens_text(self) -> str:
        """"tok/J gpu-board 2.9 (3 hosts) · soc-input 3.3 (1); estimated 0.21 (1) apart"."""
        if not self.tokens_per_j and self.estimated is None:
            if self.window:
                return f"tok/J per host only (counters, {self.window}; no run record)"
            return "fleet tok/J -"
        measured = " · ".join(f"{k.kind} {k.tokens_per_j:.3g} ({k.hosts} host{'s' if k.hosts != 1 else ''})"
                              for k in self.tokens_per_j)
        text = f"tok/J {measured}" if measured else "tok/J: no host measured"
        if self.estimated is not None:
            text += f"; estimated {self.estimated.tokens_per_j:.3g} ({self.estimated.hosts}) apart"
        return text

    def text(self) -> str:
        parts = [f"{self.reporting} of {self.total} hosts reporting", self.tokens_text()]
        if self.power_by_kind:
            parts.append("power " + " ".join(f"{k} {w:.0f} W" for k, w in sorted(self.power_by_kind.items())))
        else:
            parts.append("power -")
        if self.running:
            parts.append(f"{self.running} running")
        if self.problems:
            parts.append(f"{self.problems} need attention")
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
    sums: dict[str, list[float]] = {}  # headline kind -> [tokens, joules, hosts]
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
        acc = sums.setdefault(domain_kind(record.headline_domain), [0.0, 0.0, 0])
        acc[0] += tj[0]
        acc[1] += tj[1]
        acc[2] += 1
    kinds = [KindTokens(kind, tokens / joules, int(n)) for kind, (tokens, joules, n) in sums.items() if joules > 0]
    measured = sorted((k for k in kinds if not is_estimate(k.kind)), key=lambda k: (-k.hosts, k.kind))
    return FleetStrip(
        reporting=sum(1 for h in hosts if h.reporting), total=len(hosts), power_by_kind=power,
        tokens_per_j=tuple(measured), estimated=next((k for k in kinds if is_estimate(k.kind)), None),
        running=sum(1 for h in hosts if h.reporting and (h.live_run is not None or h.activity not in ("", "idle"))),
        problems=sum(1 for h in hosts if h.status in ("error", "unsupported", "stale")),
        window=next((h.window.label for h in hosts if h.window is not None), ""),
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
