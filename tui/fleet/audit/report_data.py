"""The audit report as plain data: the JSON document, and the tidy rows of the CSV.

JSON keeps every figure with its unit in the key name and its domain beside it; the CSV has one row per
figure (section, host, group, profile, setting, domain, metric, value, unit, note), which any
spreadsheet or dataframe can pivot.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from wattfleet.tui.fleet.audit.audit import AuditReport
from wattfleet.tui.fleet.audit.model import Success

CSV_COLUMNS = ("section", "host", "group", "profile", "setting", "domain", "metric", "value", "unit", "note")


def report_to_dict(report: AuditReport) -> dict[str, Any]:
    budget = report.budget
    return {
        "kind": "wattfleet audit",
        "sources": list(report.sources),
        "n_runs": len(report.runs),
        "hosts": report.hosts,
        "profiles": report.profiles,
        "rejected": [asdict(r) for r in report.rejected],
        "notes": list(report.notes),
        "host_power": [asdict(hp) for host in sorted(report.power) for hp in report.power[host].values()],
        "totals": [asdict(t) for t in report.totals],
        "budget": None if budget is None else {
            "source": budget.source, "fleet_w": budget.fleet_w, "domain": report.budget_domain,
            "note": report.budget_note,
            "lines": [{**asdict(b), "headroom_w": b.headroom_w, "peak_headroom_w": b.peak_headroom_w,
                       "status": b.status} for b in report.budget_lines]},
        "efficiency": [{**asdict(e), "estimated": e.estimated, "invalid": e.invalid} for e in report.efficiency],
        "best_success_low": dict(report.best_success_low),
        "outliers": [{**asdict(o), "direction": o.direction} for o in report.outliers],
        "slo": asdict(report.slo),
        "operating_points": [{**asdict(p), "tokens_per_j": p.tokens_per_j} for p in report.points],
        "points_not_used": [asdict(e) for e in report.point_problems],
        "allocations": [asdict(a) for a in report.allocations],
        "comparison": None if report.comparison is None else [
            {**asdict(c), "change_rel": c.change_rel} for c in report.comparison],
        "rules": dict(report.rules),
    }


def report_json(report: AuditReport) -> str:
    return json.dumps(report_to_dict(report), indent=2, allow_nan=False) + "\n"


def _rows(report: AuditReport) -> Iterator[tuple[Any, ...]]:
    for host in sorted(report.power):
        for hp in report.power[host].values():
            for metric, value in (("power_avg_w", hp.avg_w), ("power_p95_w", hp.p95_w), ("power_peak_w", hp.peak_w)):
                note = f"p95 over {hp.p95_over}" if metric == "power_p95_w" else ""
                yield "host_power", host, "", "", "", hp.key, metric, value, "W", note
    for t in report.totals:
        for metric, value in (("power_avg_w", t.avg_w), ("power_p95_sum_w", t.p95_sum_w),
                              ("power_peak_sum_w", t.peak_sum_w)):
            yield "totals", "", t.scope, "", "", t.key, metric, value, "W", f"{t.n_hosts} hosts"
    for b in report.budget_lines:
        for metric, value in (("budget_w", b.budget_w), ("power_avg_w", b.avg_w), ("headroom_w", b.headroom_w),
                              ("power_peak_sum_w", b.peak_sum_w), ("peak_headroom_w", b.peak_headroom_w)):
            yield "budget", "", b.name, "", "", b.domain, metric, value, "W", b.status
    for e in report.efficiency:
        flags = ";".join(f for f, on in (("estimated", e.estimated), ("low_confidence", e.low_confidence),
                                         ("invalid", e.invalid), ("shared", e.shared), ("contended", e.contended),
                                         ("answers_worse", e.answers_worse)) if on)
        rows: list[tuple[str, float | None, str]] = [
            ("tokens_per_j", e.tokens_per_j, "tokens/J"), ("j_per_token", e.j_per_token, "J/token"),
            ("tokens_per_s", e.tokens_per_s, "tok/s")]
        if e.success is not None:
            rows += [*_success_rows(e.success), ("j_per_correct", e.j_per_correct, "J/correct"),
                     ("correct_per_s", e.correct_per_s, "correct/s")]
        for metric, value, unit in rows:
            domain = e.domain if metric in ("tokens_per_j", "j_per_token", "j_per_correct") else ""
            yield "efficiency", e.host, e.device_model, e.profile, "", domain, metric, value, unit, flags
    for o in report.outliers:
        yield ("outlier", o.host, o.device_model, o.profile, "", o.domain, "tokens_per_j", o.tokens_per_j,
               "tokens/J", f"peer median {o.peer_median:.6g}; z {o.z:.2f}; " + "; ".join(o.evidence))
    for p in report.points:
        note = ";".join(f for f, on in (("invalid", not p.valid), ("answers_worse", p.answers_worse)) if on)
        for metric, value, unit in (("tokens_per_s", p.tokens_per_s, "tok/s"), ("power_avg_w", p.power_w, "W"),
                                    ("ttft_p99", p.ttft_p99_ms, "ms"), ("tpot_p99", p.tpot_p99_ms, "ms"),
                                    *(_success_rows(p.success) if p.success is not None else ())):
            yield ("operating_point", p.host, "", p.profile, p.setting, p.domain, metric, value, unit, note)
    for a in report.allocations:
        for c in a.choices:
            note = a.objective + ("; answers worse" if c.answers_worse else "")
            yield "allocation", c.host, "", a.profile, c.setting, a.domain, "tokens_per_s", c.tokens_per_s, "tok/s", \
                note
            yield "allocation", c.host, "", a.profile, c.setting, a.domain, "power_avg_w", c.power_w, "W", note
            if c.success is not None:
                yield "allocation", c.host, "", a.profile, c.setting, "", "success_rate", c.success.rate, \
                    "fraction", note
        for name, limit, slack in a.budgets:
            yield "allocation_slack", "", name, a.profile, "", a.domain, "slack_w", slack, "W", f"budget {limit:g} W"
    for ch in report.comparison or ():
        yield "comparison", ch.host, "", ch.profile, "", ch.domain, ch.metric, ch.after, ch.unit, \
            f"before {ch.before:.6g}; {ch.verdict}"


def _success_rows(s: Success) -> list[tuple[str, float | None, str]]:
    return [("success_rate", s.rate, "fraction"), ("success_rate_ci_low", s.ci_low, "fraction"),
            ("success_rate_ci_high", s.ci_high, "fraction")]


def report_csv(report: AuditReport) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for row in _rows(report):
        w.writerow(["" if v is None else (f"{v:.10g}" if isinstance(v, float) else v) for v in row])
    return buf.getvalue()
