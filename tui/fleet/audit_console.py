"""The console's audit: the runs on screen (and a Prometheus range) through the same `run_audit` as
`wattfleet audit`, and the report as the audit screen's tables. Pure (no Textual): the screen runs
`audit_outcome` in a worker thread and draws what `tables` returns.

The figures are the report's own, formatted by the same helpers as the Markdown report (report_md.py), so
the screen and `wattfleet audit` cannot disagree. Nothing here changes a power limit or talks to an agent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from wattfleet.core.errors import ConfigError, WattfleetError
from wattfleet.core.model import RunRecord
from wattfleet.tui.fleet.audit import AuditOptions, AuditReport, run_audit, runs_from_records
from wattfleet.tui.fleet.audit.audit import Allocation
from wattfleet.tui.fleet.audit.report_md import choice_rows, efficiency_rows, fmt
from wattfleet.tui.fleet.prom_fleet import DEFAULT_SELECTOR

APPLY_NOTE = "It proposes, never applies: setting a power limit or turning a host off is the operator's call."
NO_BUDGET = ("No budget given: start the console with --budget FILE (fleet_w, optional [group.LABEL.VALUE] "
             "budget_w; docs/AUDIT.md) to see the headroom and what the budget can buy.")

Table = tuple[list[str], list[list[str]]]


@dataclass(frozen=True)
class ConsoleAudit:
    """What the audit screen audits against (`wattfleet tui --budget ... --slo-... --prometheus ...`)."""

    options: AuditOptions = field(default_factory=AuditOptions)
    prometheus_url: str = ""
    prometheus_selector: str = DEFAULT_SELECTOR
    range_text: str = "1h"


@dataclass(frozen=True)
class AuditOutcome:
    """One audit as the screen shows it: the report (None when nothing could be audited) and what went wrong."""

    report: AuditReport | None
    runs_on_screen: int  # run records handed in (completed or not)
    hosts_on_screen: int
    prometheus_hosts: int  # hosts of the Prometheus range (0 without one)
    problems: tuple[str, ...] = ()  # one line each: Prometheus errors, a budget group no host carries


def audit_outcome(records: Sequence[RunRecord], settings: ConsoleAudit) -> AuditOutcome:
    """Audit the records (and the Prometheus range, when a URL is set). Blocking: call it from a worker.

    Never raises for bad input: Prometheus trouble leaves the range out, a budget naming a label no host
    carries leaves the budget out, each said in `problems`."""
    runset = runs_from_records(records, "console")
    problems: list[str] = []
    prom_hosts = 0
    if settings.prometheus_url:
        from wattfleet.tui.fleet.prom_range import audit_runset

        try:
            prom = audit_runset(settings.prometheus_url, settings.range_text,
                                base_selector=settings.prometheus_selector)
        except WattfleetError as exc:
            problems.append(f"Prometheus range left out: {exc}")
        else:
            runset = runset + prom
            prom_hosts = len(prom.hosts)
    hosts = len({r.host_id for r in records})
    if not runset.runs:
        why = f"; {runset.rejected[0].reason}" if runset.rejected else ""
        problems.append(f"nothing to audit: no completed run among the {len(records)} on screen{why}")
        return AuditOutcome(None, len(records), hosts, prom_hosts, tuple(problems))
    options = settings.options
    try:
        report = run_audit(runset, options)
    except ConfigError as exc:  # a budget group no host carries: the rest of the audit still produced
        problems.append(f"{exc}; audited without the budget")
        report = run_audit(runset, replace(options, budget=None))
    return AuditOutcome(report, len(records), hosts, prom_hosts, tuple(problems))


# --- the screen's tables (header, rows), from the report alone ---------------------------------------------


def watts_table(report: AuditReport) -> Table:
    """Per host and domain key: windows, average, p95, peak; estimates and low confidence marked."""
    rows = []
    for host in sorted(report.power):
        for hp in report.power[host].values():
            note = "; ".join(n for n, on in (("estimate, counted apart", hp.estimated),
                                             ("low confidence", hp.low_confidence)) if on)
            rows.append([host, hp.key, str(hp.n_runs), fmt(hp.avg_w), fmt(hp.p95_w), hp.p95_over, fmt(hp.peak_w),
                         note])
    return ["host", "domain", "windows", "avg W", "p95 W", "p95 over", "peak W", ""], rows


def totals_table(report: AuditReport) -> Table:
    """The fleet and each group added up, one domain key at a time (never across keys)."""
    return (["scope", "domain", "hosts", "sum of avg W", "sum of p95 W", "sum of peaks W (bound)"],
            [[t.scope, t.key + (" (a model)" if t.key == "estimated" else ""), str(t.n_hosts), fmt(t.avg_w),
              fmt(t.p95_sum_w), fmt(t.peak_sum_w)] for t in report.totals])


def budget_table(report: AuditReport) -> Table:
    return (["budget", "W", "domain", "hosts", "avg W", "headroom W", "sum of peaks W", "peak headroom W",
             "status"],
            [[b.name, fmt(b.budget_w), b.domain, str(len(b.hosts)), fmt(b.avg_w), fmt(b.headroom_w),
              fmt(b.peak_sum_w), fmt(b.peak_headroom_w), b.status] for b in report.budget_lines])


def budget_notes(report: AuditReport) -> list[str]:
    """What the budget counts, and per budget the hosts not counted or counted apart."""
    if report.budget is None:
        return [NO_BUDGET]
    out = [f"From {report.budget.source}: {report.budget_note}."]
    for b in report.budget_lines:
        if b.not_counted:
            out.append(f"{b.name}: not counted: " + "; ".join(f"{h} ({why})" for h, why in b.not_counted[:10])
                       + (f" (+{len(b.not_counted) - 10} more)" if len(b.not_counted) > 10 else ""))
        if b.estimated_hosts:
            out.append(f"{b.name}: counted apart, estimates only (not a measurement): {len(b.estimated_hosts)} "
                       f"host(s), {fmt(b.estimated_w)} W estimated")
    return out


EFFICIENCY_ORDER = ("host", "profile", "tokens/J", "domain", "flags", "success [95% CI]", "J/correct", "correct/s",
                    "tok/s", "J/token", "runs (valid)", "device")


def efficiency_table(report: AuditReport) -> Table:
    """tokens/J per host and profile, with task success and J/correct beside it where answers were scored:
    the Markdown report's rows, its flags moved next to the figure they qualify."""
    header, rows = efficiency_rows(report)
    order = [header.index(name) for name in EFFICIENCY_ORDER if name in header]
    return [header[i] for i in order], [[row[i] for i in order] for row in rows]


def outliers_table(report: AuditReport) -> Table:
    return (["host", "profile", "device", "tokens/J", "peers' median", "z", "evidence"],
            [[o.host, o.profile, o.device_model, f"{fmt(o.tokens_per_j)} ({o.direction})", fmt(o.peer_median),
              f"{o.z:.2f}", "; ".join(o.evidence) or "nothing in the records differs"] for o in report.outliers])


def allocation_lines(a: Allocation) -> list[str]:
    """One allocation in a few lines: the total, each budget's slack, what the next watt buys, who is out."""
    out = [f"{a.profile}: {a.objective} · solver {a.solver}: {a.status}"]
    if a.feasible:
        on = sum(1 for c in a.choices if c.setting != "off")
        out.append(f"  total {fmt(a.tokens_per_s)} tok/s at {fmt(a.power_w)} W [{a.domain}], {on} of "
                   f"{len(a.choices)} eligible hosts on")
        if a.budgets:
            out.append("  slack: " + " · ".join(f"{name} {fmt(slack)} of {fmt(limit)} W"
                                                 for name, limit, slack in a.budgets))
        if a.next_watt:
            out.append("  next watt: " + " · ".join(f"{step:g} W more on {name} buys {fmt(extra)} tok/s"
                                                    for name, step, extra in a.next_watt))
    else:
        out.append("  no allocation meets the budgets and the SLO")
    if a.excluded:
        reasons = Counter(e.reason for e in a.excluded)
        out.append(f"  {len(a.excluded)} operating point(s) not eligible: "
                   + "; ".join(f"{n} x {reason}" for reason, n in reasons.most_common(4)))
    return out


def allocation_table(a: Allocation) -> Table:
    """One allocation's chosen setting per host, success beside it where scored (report_md's rows)."""
    header, rows = choice_rows(a)
    return list(header), rows


def summary(outcome: AuditOutcome, settings: ConsoleAudit) -> str:
    """The screen's first line: what was audited, against what, and how the fleet's budget stands."""
    report = outcome.report
    parts = [f"{outcome.runs_on_screen} runs of {outcome.hosts_on_screen} hosts on screen"]
    if settings.prometheus_url:
        parts.append(f"Prometheus {settings.range_text}: {outcome.prometheus_hosts} hosts")
    if report is not None:
        parts.append(f"{len(report.runs)} audited, {len(report.rejected)} set aside")
        fleet = next((b for b in report.budget_lines if b.name == "fleet"), None)
        if report.budget is None:
            parts.append("no budget")
        elif fleet is None:
            parts.append(f"{report.budget.source}: not counted")
        else:
            parts.append(f"{report.budget.source}: fleet {fleet.status}, {fmt(fleet.avg_w)} of {fmt(fleet.budget_w)} W "
                         f"[{fleet.domain}]")
        parts.append(f"SLO {report.slo}")
    return " · ".join(parts)
