"""The fleet power-budget audit: where the watts go, and the most tokens/s a budget can buy.

Pure (no gRPC, Textual or zeroconf): `wattfleet audit` and, later, the console's audit screen use it.
Sources give a `RunSet` of `AuditRun`s (records.py: `load_runs` for record files, `runs_from_records` for
RunRecords a client holds; a Prometheus source builds AuditRuns itself); `run_audit(RunSet,
AuditOptions)` returns an `AuditReport` that report_md/report_data/report_html render. The audit never
changes a power limit.
"""

from wattfleet.tui.fleet.audit.audit import Allocation, AuditOptions, AuditReport, run_audit
from wattfleet.tui.fleet.audit.budget import Budget, GroupBudget, load_budget, parse_budget
from wattfleet.tui.fleet.audit.model import AuditRun, DomainPower, Environment, Rejected, RunSet, Success, domain_key
from wattfleet.tui.fleet.audit.points import OperatingPoint, Slo
from wattfleet.tui.fleet.audit.problem import Limit, Option, Problem, Solution, brute_force, max_tokens, min_power
from wattfleet.tui.fleet.audit.records import audit_run, audit_run_from_record, load_runs, runs_from_records

__all__ = [
    "Allocation", "AuditOptions", "AuditReport", "AuditRun", "Budget", "DomainPower", "Environment", "GroupBudget",
    "Limit", "OperatingPoint", "Option", "Problem", "Rejected", "RunSet", "Slo", "Solution", "Success", "audit_run",
    "audit_run_from_record", "brute_force", "domain_key", "load_budget", "load_runs", "max_tokens", "min_power",
    "parse_budget", "run_audit", "runs_from_records",
]
