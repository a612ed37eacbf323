"""The audit as Markdown: the readable default of `wattfleet audit`, and the `--format md` file."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from wattfleet.tui.fleet.audit.audit import Allocation, AuditReport

MAX_ROWS = 200  # longer tables are cut, saying how many rows were left out (the JSON/CSV have them all)


def fmt(value: float | None) -> str:
    """A figure for people: thousands grouped, four significant digits below 1000."""
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], limit: int = MAX_ROWS) -> list[str]:
    if not rows:
        return ["(none)"]
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows[:limit]]
    if len(rows) > limit:
        out.append(f"\n({len(rows) - limit} more rows in the JSON and CSV reports)")
    return out


def _allocation(a: Allocation) -> list[str]:
    out = [f"### {a.profile}: {a.objective}", ""]
    out.append(f"- solver: {a.solver}; {a.status}")
    if a.feasible:
        on = [c for c in a.choices if c.setting != "off"]
        out.append(f"- total: **{fmt(a.tokens_per_s)} tok/s** at **{fmt(a.power_w)} W** [{a.domain}], "
                   f"{len(on)} of {len(a.choices)} eligible hosts on")
        out += [f"- budget {name}: {fmt(limit)} W, slack {fmt(slack)} W" for name, limit, slack in a.budgets]
        out += [f"- the next {step:g} W on {name} would buy {fmt(extra)} tok/s" for name, step, extra in a.next_watt]
        out += ["", *table(["host", "setting", "tok/s", f"W [{a.domain}]"],
                           [[c.host, c.setting, fmt(c.tokens_per_s), fmt(c.power_w)] for c in a.choices])]
    if a.excluded:
        reasons = Counter(e.reason for e in a.excluded)
        out += ["", f"{len(a.excluded)} operating point(s) not eligible:"]
        out += [f"- {n} x {reason}" for reason, n in reasons.most_common(10)]
    return [*out, ""]


def report_markdown(report: AuditReport) -> str:
    out = ["# wattfleet audit", ""]
    out.append(f"{len(report.runs)} run(s) from {len(report.hosts)} host(s), {len(report.profiles)} profile(s); "
               f"{len(report.rejected)} record(s) set aside. This audit changes no power limit.")
    out.append("")
    if report.rejected:
        out += ["## Records set aside", ""]
        out += table(["record", "host", "reason"], [[r.source, r.host or "-", r.reason] for r in report.rejected])
        out.append("")
    if report.notes:
        out += ["## Notes", "", *[f"- {n}" for n in report.notes], ""]
    out += ["## Where the watts go", "", "Per host and domain over its runs (average: duration-weighted; p95 over "
            "the runs' averages or over samples, as stated; peak: the highest sample seen).", ""]
    rows = [[host, hp.key + (" (estimate)" if hp.estimated else ""), str(hp.n_runs), fmt(hp.avg_w), fmt(hp.p95_w),
             hp.p95_over, fmt(hp.peak_w), "low confidence" if hp.low_confidence else ""]
            for host in sorted(report.power) for hp in report.power[host].values()]
    out += table(["host", "domain", "runs", "avg W", "p95 W", "p95 over", "peak W", ""], rows)
    out += ["", "Totals, added only within one domain key:", ""]
    out += table(["scope", "domain", "hosts", "sum of avg W", "sum of p95 W", "sum of peaks W (bound)"],
                 [[t.scope, t.key, str(t.n_hosts), fmt(t.avg_w), fmt(t.p95_sum_w), fmt(t.peak_sum_w)]
                  for t in report.totals])
    out.append("")
    if report.budget is not None:
        out += ["## Budget", "", f"From {report.budget.source}: {report.budget_note}.", ""]
        out += table(["budget", "W", "domain", "hosts", "avg W", "headroom W", "sum of peaks W", "peak headroom W",
                      "status"],
                     [[b.name, fmt(b.budget_w), b.domain, str(len(b.hosts)), fmt(b.avg_w), fmt(b.headroom_w),
                       fmt(b.peak_sum_w), fmt(b.peak_headroom_w), b.status] for b in report.budget_lines])
        for b in report.budget_lines:
            if b.not_counted:
                out.append(f"\n{b.name}: not counted: " + "; ".join(f"{h} ({why})" for h, why in b.not_counted[:20]))
            if b.estimated_hosts:
                out.append(f"\n{b.name}: counted apart, estimates only (not a measurement): "
                           f"{len(b.estimated_hosts)} host(s), {fmt(b.estimated_w)} W estimated")
        out.append("")
    out += ["## Efficiency per profile", "", "tokens/J pooled over runs in each host's headline domain; "
            "valid runs only where a host has any.", ""]
    out += table(["host", "profile", "device", "tokens/J", "J/token", "domain", "tok/s", "runs (valid)", "flags"],
                 [[e.host, e.profile, e.device_model, fmt(e.tokens_per_j), fmt(e.j_per_token), e.domain or "none",
                   fmt(e.tokens_per_s), f"{e.n_runs} ({e.n_valid})",
                   ", ".join(f for f, on in (("ESTIMATE", e.estimated), ("low confidence", e.low_confidence),
                                             ("INVALID", e.invalid)) if on)] for e in report.efficiency])
    out += ["", "## Outliers", "", f"Rule: {report.rules['outliers']}.", ""]
    if report.outliers:
        out += table(["host", "profile", "device", "tokens/J", "peers' median", "z", "evidence"],
                     [[o.host, o.profile, o.device_model, f"{fmt(o.tokens_per_j)} ({o.direction})",
                       fmt(o.peer_median), f"{o.z:.2f}", "; ".join(o.evidence)] for o in report.outliers])
    else:
        out.append("None.")
    out += ["", "## Allocation", "", f"SLO: {report.slo}. {report.rules['off'][0].upper()}{report.rules['off'][1:]}.",
            ""]
    for a in report.allocations:
        out += _allocation(a)
    if report.allocation_note:
        out += [report.allocation_note, ""]
    if report.comparison is not None:
        out += ["## Over time", "", f"Rule: {report.rules['noise']}.", ""]
        named = [c for c in report.comparison if c.verdict in ("regression", "improvement")]
        out.append(f"{len(named)} change(s) beyond the noise; {len(report.comparison)} figure(s) compared.")
        out.append("")
        out += table(["host", "profile", "figure", "before", "after", "change", "noise", "verdict"],
                     [[c.host, c.profile, f"{c.metric} {c.unit}" + (f" [{c.domain}]" if c.domain else ""),
                       fmt(c.before), fmt(c.after),
                       "-" if c.change_rel is None else f"{c.change_rel:+.1%}",
                       "unknown" if c.noise_rel is None else f"{c.noise_rel:.1%}", c.verdict]
                      for c in report.comparison])
        out.append("")
    return "\n".join(out).rstrip() + "\n"
