"""The audit as Markdown: the readable default of `wattfleet audit`, and the `--format md` file."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from wattfleet.tui.fleet.audit.audit import Allocation, AuditReport
from wattfleet.tui.fleet.audit.model import Success
from wattfleet.tui.fleet.audit.power import Efficiency

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


def fmt_success(s: Success | None) -> str:
    """"0.82 [0.74, 0.88]": the success rate with its 95% interval, "-" when no answer was scored."""
    if s is None or s.rate is None:
        return "-"
    ci = f" [{s.ci_low:.2f}, {s.ci_high:.2f}]" if s.ci_low is not None and s.ci_high is not None else ""
    return f"{s.rate:.2f}{ci}"


def flags(e: Efficiency) -> str:
    """The marks an efficiency row carries, most serious first."""
    marks = (("ANSWERS WORSE", e.answers_worse), ("INVALID", e.invalid), ("ESTIMATE", e.estimated),
             ("shared", e.shared), ("contended", e.contended), ("low confidence", e.low_confidence))
    return ", ".join(f for f, on in marks if on)


def efficiency_rows(report: AuditReport) -> tuple[list[str], list[list[str]]]:
    """The efficiency table (header, rows), with the success columns when any run scored answers."""
    answers = any(e.success is not None for e in report.efficiency)
    header = ["host", "profile", "device", "tokens/J", "J/token", "domain", "tok/s"]
    header += ["success [95% CI]", "J/correct", "correct/s"] if answers else []
    rows = []
    for e in report.efficiency:
        row = [e.host, e.profile, e.device_model, fmt(e.tokens_per_j), fmt(e.j_per_token), e.domain or "none",
               fmt(e.tokens_per_s)]
        row += [fmt_success(e.success), fmt(e.j_per_correct), fmt(e.correct_per_s)] if answers else []
        rows.append([*row, f"{e.n_runs} ({e.n_valid})", flags(e)])
    return [*header, "runs (valid)", "flags"], rows


def choice_rows(a: Allocation) -> tuple[list[str], list[list[str]]]:
    """The allocation table (header, rows): the setting chosen per host, success beside it where scored."""
    answers = any(c.success is not None for c in a.choices)
    header = ["host", "setting", "tok/s", f"W [{a.domain}]", *(["success [95% CI]"] if answers else [])]
    rows = []
    for c in a.choices:
        row = [c.host, c.setting, fmt(c.tokens_per_s), fmt(c.power_w)]
        if answers:
            row.append(fmt_success(c.success) + (" ANSWERS WORSE" if c.answers_worse else ""))
        rows.append(row)
    return header, rows


def answers_worse_lines(report: AuditReport) -> list[str]:
    """One line per operating point that answers worse (ANSWERS_WORSE_RULE)."""
    return [f"{p.host} {p.setting} ({p.profile}): success {fmt_success(p.success)}, best lower bound "
            f"{report.best_success_low.get(p.profile, 0.0):.2f}" for p in report.points if p.answers_worse]


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
        out += ["", *table(*choice_rows(a))]
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
    out += ["## Where the watts go", "", "Per host and domain over its measured windows (each run, or each level of a "
            "sweep; average: duration-weighted; p95 over the windows' averages or over samples, as stated; peak: "
            "the highest sample seen).", ""]
    rows = [[host, hp.key + (" (estimate)" if hp.estimated else ""), str(hp.n_runs), fmt(hp.avg_w), fmt(hp.p95_w),
             hp.p95_over, fmt(hp.peak_w), "low confidence" if hp.low_confidence else ""]
            for host in sorted(report.power) for hp in report.power[host].values()]
    out += table(["host", "domain", "windows", "avg W", "p95 W", "p95 over", "peak W", ""], rows)
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
    if report.best_success_low:
        out += [f"Task success: {report.rules['success']}. {report.rules['answers_worse'][0].upper()}"
                f"{report.rules['answers_worse'][1:]}: best lower bound "
                + ", ".join(f"{p} {v:.2f}" for p, v in sorted(report.best_success_low.items())) + ".", ""]
    out += table(*efficiency_rows(report))
    worse = answers_worse_lines(report)
    if worse:
        out += ["", f"{len(worse)} operating point(s) answer worse than the fleet's best:", "",
                *[f"- {w}" for w in worse[:MAX_ROWS]]]
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
