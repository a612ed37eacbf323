"""The audit's Prometheus source: per host and power domain, average, p95 and peak power over a time range,
and tokens/J from the counters; then the same as the audit's input (`wattfleet audit --prometheus URL
--range 24h`).

Six queries per audit whatever the fleet's size (each evaluated at the range's end, R = its length):

- energy: `increase(wattfleet_energy_joules_total[R])`; average power = energy / the time the host's
  series cover (METRICS.md power_avg_w: energy over the window);
- peak: `max_over_time(wattfleet_power_watts[R])`, the highest scraped sample;
- samples: `wattfleet_power_watts` as a range query, at most `max_points` per series and `max_samples` in
  all (the peak query counts the series first); p95 is the nearest rank over them (the audit's rule), so
  it is p95 over samples taken every `step_s`;
- tokens and queries: `increase(wattfleet_output_tokens_total[R])`, `increase(wattfleet_queries_total[R])`;
- labels: `last_over_time(wattfleet_agent_info[R])` (with `wattfleet sd`, device_model, site and rack).

The counters carry no run or profile: a range is everything a host did in it, so each host becomes one
AuditRun that says so (valid=False with that reason), for "where the watts go", not the optimiser.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wattfleet.core.errors import WattfleetError
from wattfleet.core.model.domains import headline_domain
from wattfleet.tui.fleet.prom_fleet import DEFAULT_SELECTOR, INFO_LABELS_DROPPED, selector
from wattfleet.tui.fleet.promql import PromClient, Sample, Series, parse_duration_s, promql_duration

if TYPE_CHECKING:  # the audit package lands with the audit branch; only to_audit_runs() needs it
    from wattfleet.tui.fleet.audit.model import AuditRun, RunSet

RANGE_PROFILE = "(prometheus range)"
RANGE_REASON = "a Prometheus time range: everything the host did in it, not one measured run"
P95_RULE = "nearest rank over the range's power samples: sorted[ceil(0.95 n) - 1]"
LOW_CONFIDENCE_S = 5.0  # METRICS.md: energy windows shorter than about 5 s are low confidence
MAX_SAMPLES = 1_000_000  # power samples per audit, all series together (about 30 MB of JSON)


@dataclass(frozen=True)
class DomainRange:
    """One power domain of one host over the range."""

    domain: str
    source: str
    energy_j: float | None
    avg_w: float | None
    p95_w: float | None
    peak_w: float | None
    samples_w: tuple[float, ...] = ()
    tokens_per_j: float | None = None

    @property
    def kind(self) -> str:
        return self.domain.split(":", 1)[0]


@dataclass(frozen=True)
class HostRange:
    host_id: str
    labels: Mapping[str, str]
    duration_s: float  # the part of the range the host's power series cover
    tokens: float | None
    queries: float | None
    domains: tuple[DomainRange, ...] = ()

    @property
    def tokens_per_s(self) -> float | None:
        return self.tokens / self.duration_s if self.tokens is not None and self.duration_s > 0 else None


@dataclass(frozen=True)
class RangeReport:
    url: str
    start_s: float
    end_s: float
    step_s: float
    hosts: tuple[HostRange, ...]
    queries: Mapping[str, str] = field(default_factory=dict)

    @property
    def range_s(self) -> float:
        return self.end_s - self.start_s


def range_queries(base_selector: str, range_s: float) -> dict[str, str]:
    """The instant queries (at the range's end) and, under "samples", the range query's expression."""
    rng = promql_duration(range_s)
    sel = selector(base_selector)
    return {
        "energy": f"increase(wattfleet_energy_joules_total{sel}[{rng}])",
        "peak": f"max_over_time(wattfleet_power_watts{sel}[{rng}])",
        "samples": f"wattfleet_power_watts{sel}",
        "tokens": f"sum by (host_id) (increase(wattfleet_output_tokens_total{sel}[{rng}]))",
        "queries": f"sum by (host_id) (increase(wattfleet_queries_total{sel}[{rng}]))",
        "info": f"last_over_time(wattfleet_agent_info{sel}[{rng}])",
    }


def nearest_rank_p95(values: Sequence[float]) -> float | None:
    """P95_RULE; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(round(0.95 * len(ordered), 9)), 1) - 1]


def query_range_power(
    client: PromClient, start_s: float, end_s: float, *, base_selector: str = DEFAULT_SELECTOR,
    max_points: int = 1000, max_samples: int = MAX_SAMPLES,
) -> RangeReport:
    """Ask Prometheus for the range; raises PromError (one line) when it cannot answer.

    The samples query is bounded twice: at most `max_points` per series, and `max_samples` in all (the
    step grows with the number of power series, counted first), so a 24 h audit of 10,000 hosts stays a
    few tens of MB of JSON."""
    range_s = end_s - start_s
    if not range_s > 0:
        raise WattfleetError(f"the range must end after it starts (got {start_s:.0f}..{end_s:.0f})")
    q = range_queries(base_selector, range_s)
    answers = {name: client.query(expr, end_s) for name, expr in q.items() if name != "samples"}
    n_series = sum(1 for _ in answers.get("peak", []))
    per_series = max(1, min(max_points, max_samples // max(1, n_series)))
    step_s = max(0.001, round(range_s / per_series, 3))  # the covered time below is exact to one step
    samples = client.query_range(q["samples"], start_s, end_s, step_s)
    return RangeReport(client.url, start_s, end_s, step_s, fold_range(answers, samples, step_s, range_s), q)


def fold_range(
    answers: Mapping[str, list[Sample]], samples: Sequence[Series], step_s: float, range_s: float
) -> tuple[HostRange, ...]:
    """Join the answers on (host_id, domain) into HostRanges (hosts sorted by id)."""
    energy = _by_domain(answers.get("energy", []))
    peak = _by_domain(answers.get("peak", []))
    series: dict[tuple[str, str], Series] = {}
    for s in samples:
        key = (s.labels.get("host_id", ""), s.labels.get("domain", ""))
        if all(key) and len(s.points) > len(series.get(key, Series({}, ())).points):
            series[key] = s
    sources = {(s.labels.get("host_id", ""), s.labels.get("domain", "")): s.labels.get("source", "")
               for s in [*answers.get("energy", []), *answers.get("peak", [])]}
    sources.update({k: s.labels.get("source", "") for k, s in series.items()})
    tokens = {s.labels.get("host_id", ""): s.value for s in answers.get("tokens", []) if _finite(s.value)}
    queries = {s.labels.get("host_id", ""): s.value for s in answers.get("queries", []) if _finite(s.value)}
    labels = {s.labels.get("host_id", ""): {k: v for k, v in s.labels.items() if k not in INFO_LABELS_DROPPED}
              for s in answers.get("info", [])}
    keys = set(energy) | set(peak) | set(series)
    out = []
    for host in sorted({h for h, _ in keys} - {""}):
        covered = [_covered_s(series[k], step_s, range_s) for k in keys if k[0] == host and k in series]
        duration = max(covered) if covered else range_s
        domains = []
        for key in sorted(k for k in keys if k[0] == host):
            e = energy.get(key)
            values = tuple(v for _, v in series[key].points if _finite(v)) if key in series else ()
            t = tokens.get(host)
            domains.append(DomainRange(
                domain=key[1], source=sources.get(key, ""), energy_j=e,
                avg_w=e / duration if e is not None and duration > 0 else None,
                p95_w=nearest_rank_p95(values), peak_w=peak.get(key), samples_w=values,
                tokens_per_j=t / e if t is not None and e is not None and e > 0 else None))
        out.append(HostRange(host, labels.get(host, {}), duration, tokens.get(host), queries.get(host),
                             tuple(domains)))
    return tuple(out)


def _by_domain(samples: list[Sample]) -> dict[tuple[str, str], float]:
    return {(s.labels.get("host_id", ""), s.labels.get("domain", "")): s.value for s in samples if _finite(s.value)}


def _covered_s(series: Series, step_s: float, range_s: float) -> float:
    """How much of the range a series covers: first to last point, plus one step; at most the range."""
    if not series.points:
        return 0.0
    return min(range_s, series.points[-1][0] - series.points[0][0] + step_s)


def _finite(value: float) -> bool:
    return math.isfinite(value)


def headline_of(domains: Sequence[str]) -> str:
    """METRICS.md's headline domain where the device is not known: a GPU's when there is one, else the CPU's."""
    return headline_domain("gpu:0", domains) or headline_domain("cpu", domains)


def to_audit_runs(report: RangeReport) -> list[AuditRun]:
    """One AuditRun per host (source "prometheus URL"), for `run_audit`'s where-the-watts-go part."""
    from wattfleet.tui.fleet.audit.model import AuditRun, DomainPower, Environment

    runs = []
    rate_hz = 1.0 / report.step_s
    for host in report.hosts:
        domains = {
            d.domain: DomainPower(
                domain=d.domain, energy_j=d.energy_j, power_avg_w=d.avg_w, power_peak_w=d.peak_w,
                tokens_per_j=d.tokens_per_j, j_per_token=1.0 / d.tokens_per_j if d.tokens_per_j else None,
                low_confidence=host.duration_s < LOW_CONFIDENCE_S or len(d.samples_w) < 2,
                sample_rate_hz=rate_hz, samples_w=d.samples_w)
            for d in host.domains
        }
        labels = {k: v for k, v in host.labels.items() if k != "version"}
        runs.append(AuditRun(
            source=f"prometheus {report.url}", run_id=f"prometheus:{host.host_id}:{report.start_s:.0f}-"
            f"{report.end_s:.0f}", host=host.host_id, profile=RANGE_PROFILE,
            setting=f"range {promql_duration(report.range_s)}", state="completed", valid=False,
            invalid_reasons=(RANGE_REASON,), labels=labels, started_unix_ns=int(report.start_s * 1e9),
            duration_s=host.duration_s, tokens_per_s=host.tokens_per_s,
            headline_domain=headline_of(list(domains)), domains=domains,
            env=Environment(device_model=host.labels.get("device_model", ""))))
    return runs


def audit_runset(
    url: str, range_text: str, *, base_selector: str = DEFAULT_SELECTOR, timeout_s: float = 30.0,
    end_s: float | None = None, max_points: int = 1000,
) -> RunSet:
    """`wattfleet audit --prometheus URL --range 24h`: the runs the audit reads. Raises UsageError for a bad
    range, PromError when Prometheus cannot answer, WattfleetError when no host has power in the range."""
    from wattfleet.tui.fleet.audit.model import Rejected, RunSet

    range_s = parse_duration_s(range_text)
    end = time.time() if end_s is None else end_s
    client = PromClient(url, timeout_s=timeout_s)
    report = query_range_power(client, end - range_s, end, base_selector=base_selector, max_points=max_points)
    runs = to_audit_runs(report)
    if not runs:
        raise WattfleetError(f"{client.url}: no wattfleet power series match {{{base_selector}}} in the last "
                             f"{range_text}; check that Prometheus scrapes the agents (wattfleet sd) under that job")
    rejected = [Rejected(source=f"prometheus {client.url}", reason="no power series in the range", host=h)
                for h in _hosts_without_power(report)]
    return RunSet(tuple(runs), tuple(rejected))


def _hosts_without_power(report: RangeReport) -> list[str]:
    return [h.host_id for h in report.hosts if not any(d.avg_w is not None for d in h.domains)]


def as_dict(report: RangeReport) -> dict[str, Any]:
    """The report as JSON-ready data (for scripts and the bench)."""
    return {
        "url": report.url, "start_s": report.start_s, "end_s": report.end_s, "step_s": report.step_s,
        "p95_rule": P95_RULE, "queries": dict(report.queries),
        "hosts": [{"host_id": h.host_id, "labels": dict(h.labels), "duration_s": h.duration_s,
                   "tokens": h.tokens, "queries": h.queries, "tokens_per_s": h.tokens_per_s,
                   "domains": [{"domain": d.domain, "source": d.source, "energy_j": d.energy_j, "avg_w": d.avg_w,
                                "p95_w": d.p95_w, "peak_w": d.peak_w, "n_samples": len(d.samples_w),
                                "tokens_per_j": d.tokens_per_j} for d in h.domains]}
                  for h in report.hosts],
    }
