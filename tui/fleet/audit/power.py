"""Where the watts go: power per host and domain over a set of runs, efficiency per profile, budget headroom.

Figures are added only under one domain key (model.domain_key): a host's GPUs add up, a GPU board and a
CPU package never do, unless the budget asks for the hosts' headline domains, and then the total says
it is mixed. Hosts whose power is only an estimate are counted apart.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from wattfleet.tui.fleet.audit.budget import HEADLINE, Budget, group_members
from wattfleet.tui.fleet.audit.model import ESTIMATED, AuditRun, Success, domain_key
from wattfleet.tui.fleet.audit.stats import nearest_rank

AVG_RULE = ("duration-weighted mean of power_avg_w over every measured window (a run, or each level of a sweep): "
            "total energy_j / total window")
PEAK_RULE = "highest power_peak_w of any run (for several devices, the sum of their peaks: an upper bound)"
GROUP_PEAK_RULE = "sum of the hosts' peaks: an upper bound, as peaks need not coincide"
TOKENS_PER_J_RULE = ("pooled over runs: total output tokens / total energy_j of the headline domain; J/correct "
                     "likewise: total energy_j / total correct answers")
SUCCESS_RULE = ("success rate with its 95% interval as the record states it; over several runs (or repeats of one "
                "setting), the run with the lowest rate speaks for them (a worst case, as for p99)")


@dataclass(frozen=True)
class HostPower:
    """One host's power under one domain key over its runs."""

    host: str
    key: str
    n_runs: int  # measured windows: runs, and each level of a sweep
    avg_w: float
    p95_w: float
    p95_over: str  # "windows" (p95 of the windows' averages) or "samples" (p95 of the power samples)
    peak_w: float | None
    low_confidence: bool

    @property
    def estimated(self) -> bool:
        return self.key == ESTIMATED


@dataclass(frozen=True)
class Efficiency:
    """tokens/J and J/token of one host on one profile, in the runs' headline domain."""

    host: str
    profile: str
    device_model: str
    domain: str  # the headline domain, "" when the runs had no power figure
    tokens_per_j: float | None
    j_per_token: float | None
    tokens_per_s: float | None
    ttft_p99_ms: float | None
    n_runs: int
    n_valid: int
    low_confidence: bool
    shared: bool = False  # the headline domain was shared with other work in some run
    contended: bool = False  # the host's CPU was busy with other work in some run
    success: Success | None = None  # task success (SUCCESS_RULE); None when no answer was scored
    j_per_correct: float | None = None  # in `domain`
    correct_per_s: float | None = None
    answers_worse: bool = False  # success CI upper bound below the best lower bound of the profile's fleet

    @property
    def estimated(self) -> bool:
        return self.domain.split(":", 1)[0] == ESTIMATED

    @property
    def invalid(self) -> bool:
        return self.n_valid == 0


@dataclass(frozen=True)
class KeyTotal:
    """The hosts of a scope (the fleet or a group) added up under one domain key."""

    scope: str
    key: str
    n_hosts: int
    avg_w: float
    p95_sum_w: float
    peak_sum_w: float | None


@dataclass(frozen=True)
class BudgetLine:
    """One budget (the fleet's or a group's) against what its hosts draw."""

    name: str
    budget_w: float
    domain: str  # the key counted, or a "headline (mixed: ...)" label
    hosts: tuple[str, ...]  # counted
    avg_w: float
    p95_sum_w: float
    peak_sum_w: float | None
    not_counted: tuple[tuple[str, str], ...]  # (host, why)
    estimated_hosts: tuple[str, ...]
    estimated_w: float

    @property
    def headroom_w(self) -> float:
        return self.budget_w - self.avg_w

    @property
    def peak_headroom_w(self) -> float | None:
        return None if self.peak_sum_w is None else self.budget_w - self.peak_sum_w

    @property
    def status(self) -> str:
        if self.avg_w > self.budget_w:
            return "over"
        if self.peak_sum_w is not None and self.peak_sum_w > self.budget_w:
            return "at risk (peaks)"
        return "ok"


def host_power(runs: Iterable[AuditRun]) -> dict[str, dict[str, HostPower]]:
    """host -> domain key -> HostPower, over every run of the host that has that key (hosts with none left out)."""
    by_host: dict[str, list[AuditRun]] = defaultdict(list)
    for r in runs:
        by_host[r.host].extend(r.levels)
    out: dict[str, dict[str, HostPower]] = {}
    for host, host_runs in sorted(by_host.items()):
        keys = sorted({k for r in host_runs for k in r.measured_keys()})
        found = {k: p for k in keys if (p := _host_key_power(host, k, host_runs)) is not None}
        if found:
            out[host] = found
    return out


def _host_key_power(host: str, key: str, runs: Sequence[AuditRun]) -> HostPower | None:
    rows = [(p, r) for r in runs if (p := r.power_w(key)) is not None]
    if not rows:
        return None
    durations = [r.duration_s for _, r in rows]
    if all(d is not None and d > 0 for d in durations):
        total_s = sum(d for d in durations if d is not None)
        avg = sum(p * (r.duration_s or 0.0) for p, r in rows) / total_s
    else:
        avg = sum(p for p, _ in rows) / len(rows)
    samples: list[float] = []
    for _, r in rows:
        doms = [d for d in r.domains.values() if d.key == key]
        samples.extend(doms[0].samples_w if len(doms) == 1 else ())
    every_run_sampled = all(
        len(ds := [d for d in r.domains.values() if d.key == key]) == 1 and ds[0].samples_w for _, r in rows)
    if every_run_sampled:
        p95, over = nearest_rank(samples, 95.0), "samples"
    else:
        p95, over = nearest_rank([p for p, _ in rows], 95.0), "windows"
    peaks = [pk for _, r in rows if (pk := r.peak_w(key)) is not None]
    low = any(d.low_confidence for _, r in rows for d in r.domains.values() if d.key == key)
    return HostPower(host, key, len(rows), avg, p95, over, max(peaks) if peaks else None, low)


def headline_keys(runs: Iterable[AuditRun]) -> dict[str, str]:
    """host -> the domain key of its runs' headline domain (the most frequent; hosts with none left out)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for r in runs:
        if r.headline_domain and r.headline is not None and r.headline.power_avg_w is not None:
            counts[r.host][domain_key(r.headline_domain)] += 1
    return {h: sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] for h, c in counts.items()}


def worst_success(runs: Iterable[AuditRun]) -> Success | None:
    """SUCCESS_RULE: the lowest success rate of the runs, with its interval."""
    known = [r.success for r in runs if r.success is not None and r.success.rate is not None]
    return min(known, key=lambda s: (s.rate, s.ci_high if s.ci_high is not None else 1.0)) if known else None


def answers_worse(success: Success | None, best_low: float | None) -> bool:
    """The success interval lies wholly below the best lower bound in the fleet: worse answers, not noise."""
    return (success is not None and success.ci_high is not None and best_low is not None
            and success.ci_high < best_low)


def best_success_low(runs: Iterable[AuditRun]) -> dict[str, float]:
    """profile -> the highest success CI lower bound of any measured window of it in the fleet."""
    out: dict[str, float] = {}
    for r in runs:
        for level in r.levels:
            if level.success is not None and level.success.ci_low is not None:
                out[level.profile] = max(out.get(level.profile, 0.0), level.success.ci_low)
    return out


def efficiency(runs: Iterable[AuditRun], best_low: Mapping[str, float] | None = None) -> list[Efficiency]:
    """tokens/J per host and profile (TOKENS_PER_J_RULE), valid runs only where the host has any, with task
    success beside it where answers were scored; `best_low` is best_success_low() of the fleet."""
    best_low = best_low or {}
    groups: dict[tuple[str, str], list[AuditRun]] = defaultdict(list)
    for r in runs:
        groups[(r.host, r.profile)].append(r)
    out = []
    for (host, profile), rs in sorted(groups.items()):
        valid = [r for r in rs if r.valid]
        use = valid or rs
        domains = Counter(r.headline_domain for r in use if r.headline_domain)
        domain = sorted(domains.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] if domains else ""
        with_e = [r for r in use if r.headline_domain == domain and domain]
        tpj = _pooled_tokens_per_j(with_e)
        tps = [r.tokens_per_s for r in use if r.tokens_per_s is not None]
        ttft = [r.ttft_p99_ms for r in use if r.ttft_p99_ms is not None]
        low = any(r.headline is not None and r.headline.low_confidence for r in with_e)
        success = worst_success(use)
        cps = [r.correct_per_s for r in use if r.correct_per_s is not None]
        out.append(Efficiency(
            host=host, profile=profile, device_model=use[0].env.device_model or "unknown", domain=domain,
            tokens_per_j=tpj, j_per_token=None if not tpj else 1.0 / tpj,
            tokens_per_s=sum(tps) / len(tps) if tps else None, ttft_p99_ms=max(ttft) if ttft else None,
            n_runs=len(rs), n_valid=len(valid), low_confidence=low or tpj is None,
            shared=any(r.shared for r in with_e), contended=any(r.contended for r in use), success=success,
            j_per_correct=_pooled_j_per_correct(with_e), correct_per_s=sum(cps) / len(cps) if cps else None,
            answers_worse=answers_worse(success, best_low.get(profile))))
    return out


def _pooled_j_per_correct(runs: Sequence[AuditRun]) -> float | None:
    """Total energy_j / total correct answers, the correct answers being each run's energy_j / J-per-correct."""
    pairs = [(h.energy_j, h.j_per_correct) for r in runs if (h := r.headline) is not None and h.j_per_correct]
    if not pairs:
        return None
    if all(e is not None and e > 0 for e, _ in pairs):
        energy = sum(e for e, _ in pairs if e is not None)
        return energy / sum((e or 0.0) / (j or 1.0) for e, j in pairs)
    return sum(j for _, j in pairs if j is not None) / len(pairs)


def _pooled_tokens_per_j(runs: Sequence[AuditRun]) -> float | None:
    pairs = [(h.tokens_per_j, h.energy_j) for r in runs if (h := r.headline) is not None and h.tokens_per_j]
    if not pairs:
        return None
    if all(e is not None and e > 0 for _, e in pairs):
        energy = sum(e for _, e in pairs if e is not None)
        return sum(t * (e or 0.0) for t, e in pairs if t is not None) / energy
    return sum(t for t, _ in pairs if t is not None) / len(pairs)


def key_totals(power: Mapping[str, Mapping[str, HostPower]], scopes: Mapping[str, Iterable[str]]) -> list[KeyTotal]:
    """Per scope (name -> hosts) and domain key: the hosts' figures added up, one key at a time."""
    out = []
    for scope, hosts in scopes.items():
        per_key: dict[str, list[HostPower]] = defaultdict(list)
        for h in sorted(set(hosts)):
            for key, hp in power.get(h, {}).items():
                per_key[key].append(hp)
        for key, hps in sorted(per_key.items()):
            peaks = [hp.peak_w for hp in hps]
            out.append(KeyTotal(scope, key, len(hps), sum(hp.avg_w for hp in hps), sum(hp.p95_w for hp in hps),
                                None if any(p is None for p in peaks) else sum(p for p in peaks if p is not None)))
    return out


def resolve_budget_domain(budget: Budget, headline: Mapping[str, str]) -> tuple[str | None, str]:
    """(the key the budget counts, HEADLINE for a mixed total, or None; a note saying what was chosen)."""
    if budget.domain and budget.domain != HEADLINE:
        return budget.domain, f"the budget counts domain {budget.domain}, as {budget.source} says"
    measured = Counter(k for k in headline.values() if k != ESTIMATED)
    if budget.domain == HEADLINE:
        mix = ", ".join(f"{k} {n} host(s)" for k, n in sorted(measured.items()))
        return HEADLINE, f"the budget counts each host's headline domain: a mixed total ({mix or 'no host'})"
    if len(measured) == 1:
        (key,) = measured
        return key, f"the budget counts domain {key}, every measured host's headline domain"
    if not measured:
        return None, "no host has a measured headline domain (only estimates, or no power source)"
    kinds = ", ".join(f"{k}: {n} host(s)" for k, n in sorted(measured.items()))
    return None, (f"the hosts' headline domains differ ({kinds}): nothing is added across them; name the one to "
                  "count with domain = \"KEY\" in the budget file or --domain KEY, or \"headline\" for a labelled "
                  "mixed total")


def budget_lines(budget: Budget, runs: Sequence[AuditRun], power: Mapping[str, Mapping[str, HostPower]],
                 headline: Mapping[str, str], counted_key: str) -> list[BudgetLine]:
    """The fleet's and each group's budget against the hosts' average draw under `counted_key`."""
    scopes: dict[str, tuple[float, set[str]]] = {"fleet": (budget.fleet_w, {r.host for r in runs})}
    members = group_members(budget, runs)
    for g in budget.groups:
        scopes[g.name] = (g.budget_w, members[g.name])
    lines = []
    for name, (budget_w, hosts) in scopes.items():
        counted: list[HostPower] = []
        skipped: list[tuple[str, str]] = []
        estimated: list[HostPower] = []
        keys_used: Counter[str] = Counter()
        for h in sorted(hosts):
            key = headline.get(h, "") if counted_key == HEADLINE else counted_key
            hp = power.get(h, {}).get(key) if key else None
            if hp is not None and not hp.estimated:
                counted.append(hp)
                keys_used[key] += 1
            elif ESTIMATED in power.get(h, {}) and set(power[h]) == {ESTIMATED}:
                estimated.append(power[h][ESTIMATED])
            elif not power.get(h):
                skipped.append((h, "no power figure (no power source in its records)"))
            else:
                skipped.append((h, f"no {key or 'headline'} power figure (has {', '.join(sorted(power[h]))})"))
        label = counted_key
        if counted_key == HEADLINE:
            label = "headline, mixed total: " + (" + ".join(f"{k} ({n})" for k, n in sorted(keys_used.items()))
                                                 or "none")
        peaks = [hp.peak_w for hp in counted]
        lines.append(BudgetLine(
            name=name, budget_w=budget_w, domain=label, hosts=tuple(hp.host for hp in counted),
            avg_w=sum(hp.avg_w for hp in counted), p95_sum_w=sum(hp.p95_w for hp in counted),
            peak_sum_w=None if any(p is None for p in peaks) else sum(p for p in peaks if p is not None),
            not_counted=tuple(skipped), estimated_hosts=tuple(hp.host for hp in estimated),
            estimated_w=sum(hp.avg_w for hp in estimated)))
    return lines
