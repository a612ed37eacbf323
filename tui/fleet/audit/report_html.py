"""The audit as one self-contained HTML page: inline CSS and SVG, no script, font or image from anywhere.

Sections: summary and notes, the tokens/J heatmap (hosts x profiles), budgets, the allocation, the
Pareto view per profile, outliers, the comparison over time, and the rules every figure follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from wattfleet.tui.fleet.audit.audit import AuditReport
from wattfleet.tui.fleet.audit.report_md import answers_worse_lines, choice_rows, efficiency_rows, fmt
from wattfleet.tui.fleet.audit.svg import budget_bars, heatmap, heatmap_legend, pareto

MAX_PARETO = 8
MAX_TABLE_ROWS = 300
_CSS = """
body { font-family: sans-serif; margin: 1.2em 2em; color: #222; max-width: 1200px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.over { color: #b00; font-weight: bold; } .note { color: #555; font-size: 0.85em; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
"""


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    out = ["<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>"]
    for row in rows[:MAX_TABLE_ROWS]:
        out.append("<tr>" + "".join(f'<td{" class=n" if i in numeric else ""}>{escape(c)}</td>'
                                    for i, c in enumerate(row)) + "</tr>")
    out.append("</table>")
    if len(rows) > MAX_TABLE_ROWS:
        out.append(f'<p class="note">{len(rows) - MAX_TABLE_ROWS} more rows in the CSV and JSON reports.</p>')
    return "\n".join(out)


def _p(text: str, cls: str = "") -> str:
    return f'<p{f" class={cls}" if cls else ""}>{escape(text)}</p>'


def report_html(report: AuditReport) -> str:
    parts = ["<h1>wattfleet audit</h1>",
             _p(f"{len(report.runs)} run(s) from {len(report.hosts)} host(s), {len(report.profiles)} profile(s); "
                f"{len(report.rejected)} record(s) set aside. This audit changes no power limit.")]
    if report.notes or report.rejected:
        items = [*report.notes, *(f"set aside: {r.source}: {r.reason}" for r in report.rejected[:50])]
        parts.append("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in items) + "</ul>")
    parts += ["<h2>tokens/J per host and profile</h2>",
              _p("Each cell: tokens/J pooled over the host's runs, in its headline domain (hover for the domain). "
                 "Colour: against the median host of the same profile measured in the same domain (log scale, "
                 "clipped at half and double); estimates are not coloured.", "note"),
              f"<div>{heatmap_legend()}</div>", f"<div>{heatmap(list(report.efficiency))}</div>"]
    header, rows = efficiency_rows(report)
    parts.append("<h2>Efficiency" + (" and answers" if report.best_success_low else "") + " per host</h2>")
    if report.best_success_low:
        parts.append(_p(f"Task success: {report.rules['success']}. {report.rules['answers_worse']}.", "note"))
    parts.append(_table(header, rows, numeric=tuple(i for i, h in enumerate(header)
                                                    if h in ("tokens/J", "J/token", "tok/s", "J/correct",
                                                             "correct/s"))))
    worse = answers_worse_lines(report)
    if worse:
        parts.append(_p(f"{len(worse)} operating point(s) answer worse than the fleet's best:"))
        parts.append("<ul>" + "".join(f"<li>{escape(w)}</li>" for w in worse[:MAX_TABLE_ROWS]) + "</ul>")
    if report.budget is not None:
        parts += ["<h2>Budgets</h2>", _p(f"From {report.budget.source}: {report.budget_note}.", "note")]
        if report.budget_lines:
            parts.append(f"<div>{budget_bars([(b.name, b.budget_w, b.avg_w) for b in report.budget_lines])}</div>")
            parts.append(_table(
                ["budget", "W", "domain", "hosts", "avg W", "headroom W", "sum of peaks W", "status"],
                [[b.name, fmt(b.budget_w), b.domain, str(len(b.hosts)), fmt(b.avg_w), fmt(b.headroom_w),
                  fmt(b.peak_sum_w), b.status] for b in report.budget_lines], numeric=(1, 3, 4, 5, 6)))
            for b in report.budget_lines:
                if b.estimated_hosts:
                    parts.append(_p(f"{b.name}: {len(b.estimated_hosts)} host(s) with estimates only, counted apart "
                                    f"({fmt(b.estimated_w)} W estimated, not a measurement).", "note"))
    parts.append("<h2>Allocation</h2>")
    parts.append(_p(f"SLO: {report.slo}. {report.rules['off'][0].upper()}{report.rules['off'][1:]}.", "note"))
    if report.allocation_note:
        parts.append(_p(report.allocation_note))
    for a in report.allocations:
        parts.append(f"<h3>{escape(a.profile)}: {escape(a.objective)}</h3>")
        parts.append(_p(f"Solver: {a.solver}; {a.status}."))
        if a.feasible:
            parts.append(_p(f"Total {fmt(a.tokens_per_s)} tok/s at {fmt(a.power_w)} W [{a.domain}]."))
            if a.budgets:
                parts.append(f"<div>{budget_bars([(n, limit, limit - slack) for n, limit, slack in a.budgets])}</div>")
            for name, step, extra in a.next_watt:
                parts.append(_p(f"The next {step:g} W on {name} would buy {fmt(extra)} tok/s."))
            parts.append(_table(*choice_rows(a), numeric=(2, 3)))
        if a.excluded:
            parts.append(_p(f"{len(a.excluded)} operating point(s) not eligible, e.g. "
                            + "; ".join(f"{e.host} {e.setting}: {e.reason}" for e in a.excluded[:3]), "note"))
    profiles = sorted({p.profile for p in report.points})
    if profiles:
        parts += ["<h2>Pareto view: tokens/J against p99 TTFT</h2>",
                  _p("Every operating point of each profile; squares are on the frontier (no other point has both "
                     "more tokens/J and a lower p99 TTFT)."
                     + (f" The first {MAX_PARETO} of {len(profiles)} profiles." if len(profiles) > MAX_PARETO else ""),
                     "note"), '<div class="charts">']
        for prof in profiles[:MAX_PARETO]:
            pts = [p for p in report.points if p.profile == prof]
            ok = {i for i, p in enumerate(pts) if p.valid and not report.slo.miss(p)}
            domains = ", ".join(sorted({p.domain for p in pts}))
            parts.append(pareto(pts, ok, f"{prof} [{domains}]"))
        parts.append("</div>")
    parts.append("<h2>Outliers</h2>")
    parts.append(_p(f"Rule: {report.rules['outliers']}.", "note"))
    parts.append(_table(["host", "profile", "device", "tokens/J", "peers' median", "z", "evidence"],
                        [[o.host, o.profile, o.device_model, f"{fmt(o.tokens_per_j)} ({o.direction})",
                          fmt(o.peer_median), f"{o.z:.2f}", "; ".join(o.evidence)] for o in report.outliers])
                 if report.outliers else _p("None."))
    if report.comparison is not None:
        parts += ["<h2>Over time</h2>", _p(f"Rule: {report.rules['noise']}.", "note"),
                  _table(["host", "profile", "figure", "before", "after", "noise", "verdict"],
                         [[c.host, c.profile, f"{c.metric} {c.unit}" + (f" [{c.domain}]" if c.domain else ""),
                           fmt(c.before), fmt(c.after), "unknown" if c.noise_rel is None else f"{c.noise_rel:.1%}",
                           c.verdict] for c in report.comparison], numeric=(3, 4))]
    parts += ["<h2>Rules</h2>", "<ul>" + "".join(f"<li><b>{escape(k)}</b>: {escape(v)}</li>"
                                                 for k, v in report.rules.items()) + "</ul>"]
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>wattfleet audit</title><style>{_CSS}</style></head>\n<body>\n{body}\n</body></html>\n")
