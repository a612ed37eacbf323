"""`wattfleet audit`: the fleet power-budget audit from saved run records and/or a Prometheus range, headless.

Reads run records (`wattfleet run --out` / `wattfleet bench --out`; schema 2, and schema 1 from earlier
versions) and, with `--prometheus URL --range 24h`, every host's power and tokens/J over that range from
the agents' counters (both together when both are given), optionally a budget file and an SLO (latency
and task success), and prints where the watts go, the budget headroom, outliers, and the allocation that
gets the most tokens/s out of the budget (or the least power for a target). It never changes a power limit.
Exit 0 on an audit, 1 when nothing could be audited or Prometheus could not answer, 2 for bad usage (a bad
range, URL or budget file).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wattfleet.core.cli import ArgumentParser
from wattfleet.core.errors import ConfigError, UsageError, WattfleetError
from wattfleet.tui.fleet.audit import AuditOptions, Budget, RunSet, Slo, load_budget, load_runs, run_audit
from wattfleet.tui.fleet.audit.parquet import write_parquet
from wattfleet.tui.fleet.audit.report_data import report_csv, report_json
from wattfleet.tui.fleet.audit.report_html import report_html
from wattfleet.tui.fleet.audit.report_md import report_markdown

EPILOG = """\
examples:
  wattfleet audit --records runs/
  wattfleet audit --prometheus http://prometheus:9090 --range 24h --budget budget.toml
  wattfleet audit --records runs/ --prometheus http://prometheus:9090 --range 7d --prometheus-job wattfleet
  wattfleet audit --records runs/ --budget budget.toml --slo-ttft-ms 200 --slo-tpot-ms 50
  wattfleet audit --records runs/ --budget budget.toml --min-success 0.9
  wattfleet audit --records runs/ --target-tokens-per-s 50000 --format json --out audit.json
  wattfleet audit --records runs/ --compare last-week/ --format html --out audit.html --parquet runs.parquet

budget.toml:
  fleet_w = 12000                  # the fleet's budget in watts
  domain = "gpu-board"             # optional: the domain key it counts, or "headline" (a labelled mixed total)
  [group.rack.r1]                  # hosts whose label rack = "r1" (any record label, or device_model)
  budget_w = 4000

Operating points are every (host, profile, setting) in the records, sweep levels included; the
optimiser picks one per host, or off, per profile, exactly (HiGHS when highspy is installed, else a
dynamic programme over watts), and says which ran. A Prometheus range gives each host's average, p95 and
peak power per domain and tokens/J from its counters: "where the watts go", not operating points.
Figures of different power domains are never added. See docs/AUDIT.md and docs/FLEET.md."""


def add_budget_flags(p: argparse._ActionsContainer) -> None:
    """The budget, SLO and target flags; `wattfleet tui` takes the same ones for its audit screen."""
    p.add_argument("--budget", type=Path, metavar="FILE", help="the budget TOML (fleet_w, optional [group.*])")
    p.add_argument("--slo-ttft-ms", type=float, metavar="X", help="chosen points need p99 TTFT <= X ms")
    p.add_argument("--slo-tpot-ms", type=float, metavar="Y", help="chosen points need p99 TPOT <= Y ms")
    p.add_argument("--min-success", type=float, metavar="F",
                   help="chosen points need a task success rate >= F (a fraction, 0 < F <= 1) and must not answer "
                        "worse than the fleet's best (success CI upper bound below the best lower bound)")
    p.add_argument("--target-tokens-per-s", type=float, metavar="T",
                   help="also find the least power that delivers T tokens/s (within the budgets, if given)")
    p.add_argument("--domain", default="", metavar="KEY",
                   help="the power domain key budgets and points count (gpu-board, cpu-package, soc-input, ...), "
                        "or 'headline' for each host's own (a labelled mixed total); overrides the budget file's")


def check_budget_flags(args: argparse.Namespace) -> Budget | None:
    """Check the budget and SLO flags (UsageError, exit 2) and read the budget file."""
    for flag, value in (("--slo-ttft-ms", args.slo_ttft_ms), ("--slo-tpot-ms", args.slo_tpot_ms),
                        ("--target-tokens-per-s", args.target_tokens_per_s)):
        if value is not None and not value > 0:
            raise UsageError(f"{flag} must be a positive number, got {value:g}")
    if args.min_success is not None and not 0 < args.min_success <= 1:
        raise UsageError(f"--min-success is a fraction of answers, 0 < F <= 1 (e.g. 0.9), got {args.min_success:g}")
    try:
        return load_budget(args.budget) if args.budget is not None else None
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def slo_of(args: argparse.Namespace) -> Slo:
    return Slo(args.slo_ttft_ms, args.slo_tpot_ms, args.min_success)


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="wattfleet audit", description="Audit a fleet's power against its budget from saved "
                       "run records and/or a Prometheus range: where the watts go, and the most tokens/s the "
                       "budget can buy.", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", action="append", type=Path, default=[], metavar="PATH",
                   help="a run record file or a folder of them (searched recursively); repeatable")
    p.add_argument("--prometheus", metavar="URL",
                   help="also read every host's power and tokens/J over --range from this Prometheus server")
    p.add_argument("--range", metavar="DURATION",
                   help="with --prometheus: the time range up to now, e.g. 30m, 24h, 7d (default 24h)")
    p.add_argument("--prometheus-job", default="wattfleet", metavar="JOB",
                   help="with --prometheus: the scrape job of the agents (default wattfleet)")
    add_budget_flags(p)
    p.add_argument("--compare", action="append", type=Path, metavar="PATH",
                   help="earlier records (file or folder) to set beside these; changes are named only beyond "
                        "the run-to-run noise the records show")
    p.add_argument("--format", choices=("md", "json", "csv", "html"), default="md",
                   help="report format (default md: readable in a terminal)")
    p.add_argument("--out", type=Path, metavar="FILE", help="write the report here instead of stdout")
    p.add_argument("--parquet", type=Path, metavar="FILE", help="also export every run record to Parquet")
    p.add_argument("--profile", action="append", default=[], metavar="NAME",
                   help="optimise only this profile (repeatable; default: every profile with operating points)")
    p.add_argument("--solver", choices=("auto", "milp", "dp"), default="auto",
                   help="auto: HiGHS MILP when highspy is installed, else the dynamic programme")
    p.add_argument("--time-limit-s", type=float, default=300.0, metavar="S",
                   help="stop each HiGHS solve after S seconds and say how far from proven optimal it is "
                        "(default 300)")
    p.add_argument("--resolution-w", type=float, default=1.0, metavar="W",
                   help="the dynamic programme's watt resolution (powers rounded up to it; default 1)")
    return p


def _check(args: argparse.Namespace) -> Budget | None:
    """Every flag checked (UsageError, exit 2) before any record is read or any server asked."""
    if args.range is not None and not args.prometheus:
        raise UsageError("--range needs --prometheus URL (the range is asked of that server)")
    if not args.records and not args.prometheus:
        raise UsageError("nothing to audit: give --records DIR (what `wattfleet run --out` wrote) and/or "
                         "--prometheus URL --range 24h")
    if args.prometheus:
        from wattfleet.tui.fleet.promql import check_url, parse_duration_s

        check_url(args.prometheus)
        parse_duration_s(args.range or "24h")
        if not args.prometheus_job.strip():
            raise UsageError("--prometheus-job must name the agents' scrape job, e.g. wattfleet")
    if not args.time_limit_s > 0:
        raise UsageError(f"--time-limit-s must be positive, got {args.time_limit_s:g}")
    if not args.resolution_w > 0:
        raise UsageError(f"--resolution-w must be positive watts, got {args.resolution_w:g}")
    for path in [*args.records, *(args.compare or [])]:
        if not path.exists():
            raise UsageError(f"{path}: no such file or folder; give the folder `wattfleet run --out` wrote")
    return check_budget_flags(args)


def _runset(args: argparse.Namespace) -> RunSet:
    """The records and the Prometheus range, together; raises WattfleetError (exit 1) when Prometheus cannot
    answer or nothing can be audited."""
    runset = load_runs(args.records) if args.records else RunSet(())
    if args.prometheus:
        from wattfleet.tui.fleet.prom_range import audit_runset
        from wattfleet.tui.fleet.promql import label_value

        runset = runset + audit_runset(args.prometheus, args.range or "24h",
                                       base_selector=f"job={label_value(args.prometheus_job.strip())}")
    if not runset.runs:
        first = f"; first: {runset.rejected[0].source}: {runset.rejected[0].reason}" if runset.rejected else ""
        raise WattfleetError(f"no run could be audited in {', '.join(map(str, args.records))}: "
                             f"{len(runset.rejected)} record(s) set aside{first}")
    return runset


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    budget = _check(args)
    runset = _runset(args)
    before = load_runs(args.compare) if args.compare else None
    options = AuditOptions(budget=budget, slo=slo_of(args),
                           target_tokens_per_s=args.target_tokens_per_s, domain=args.domain, solver=args.solver,
                           resolution_w=args.resolution_w, profiles=tuple(args.profile),
                           time_limit_s=args.time_limit_s)
    try:
        report = run_audit(runset, options, before)
    except ConfigError as exc:  # a budget group no host carries
        raise UsageError(str(exc)) from None
    render = {"md": report_markdown, "json": report_json, "csv": report_csv, "html": report_html}[args.format]
    text = render(report)
    if args.parquet is not None:
        n = write_parquet(runset.runs, args.parquet)
        print(f"wattfleet audit: {n} row(s) written to {args.parquet}", file=sys.stderr)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(f"wattfleet audit: {args.format} report written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    if runset.rejected:
        print(f"wattfleet audit: {len(runset.rejected)} record(s) set aside; the report says why", file=sys.stderr)
    return 0
