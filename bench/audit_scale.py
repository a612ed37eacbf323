"""The audit at fleet scale: 10,000 run records from 1,000 hosts, and the optimiser on 1,000 hosts x 12 points.

Part 1, audit: writes 10,000 synthetic schema-2 records (core's RunRecord.to_dict, the writer `wattfleet
run` uses; 1,000 hosts in 50 racks of 20 and 10 sites; 2 profiles x 5 rates per host) as JSON files,
then runs the real command on them in a child process,
`wattfleet audit --records DIR --budget B --format json --out F --parquet P --profile decoder-server`
(fleet + 50 rack + 10 site budgets; the optimiser on one profile, 1,000 hosts x 5 points, with its
next-watt re-solves), and reports its wall time and peak RSS; then, in this process, the time of
each stage without the optimiser (read, audit, each report format, Parquet).
Part 2, optimiser: 1,000 hosts x 12 operating points (concave tokens/s against watts, seeded), under
a fleet budget and two levels of group budgets (10 sites > 50 racks), all binding. HiGHS (real watts)
against the dynamic programme at --resolution-w; and both on the powers rounded up to that resolution,
where both are exact, so their optima must be equal.
Part 3, brute force: small fleets (3, 4, 5 hosts x 12 points, with a site and rack budgets) where every
combination can be tried: HiGHS and the DP against brute force.
Writes bench/results/audit_scale.json and .md.

    .venv/bin/python bench/audit_scale.py [--hosts 1000] [--runs-per-host 10] [--resolution-w 10]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the synthetic records live with the tests

from tests.audit.synth import record  # noqa: E402
from wattfleet.tui.fleet.audit import (  # noqa: E402
    AuditOptions,
    Limit,
    Option,
    Problem,
    brute_force,
    load_budget,
    load_runs,
    max_tokens,
    run_audit,
)
from wattfleet.tui.fleet.audit.parquet import write_parquet  # noqa: E402
from wattfleet.tui.fleet.audit.report_data import report_csv, report_json  # noqa: E402
from wattfleet.tui.fleet.audit.report_html import report_html  # noqa: E402
from wattfleet.tui.fleet.audit.report_md import report_markdown  # noqa: E402

RACK, SITE = 20, 5  # hosts per rack, racks per site


def _write_records(folder: Path, hosts: int, per_host: int, rng: random.Random) -> tuple[int, set[str]]:
    """Write the records; returns how many, and the hosts made slow on purpose (outliers to find)."""
    rates = [2, 4, 8, 16, 32]
    n = 0
    slow: set[str] = set()
    for h in range(hosts):
        rack, site = h // RACK, h // (RACK * SITE)
        gpu = "NVIDIA H100" if h % 3 else "NVIDIA L40S"
        eff = rng.uniform(0.9, 1.1)
        if rng.random() < 0.01:  # 1% slow hosts: the outliers to find
            eff *= 0.5
            slow.add(f"host-{h:04d}")
        for i in range(per_host):
            profile = "decoder-server" if i % 2 == 0 else "decoder-gpt2"
            rate = rates[(i // 2) % len(rates)]
            watts = 150.0 + 400.0 * (1 - math.exp(-rate / 10)) * rng.uniform(0.97, 1.03)
            tps = 4000.0 * (1 - math.exp(-rate / 8)) * eff * (0.5 if profile == "decoder-gpt2" else 1.0)
            rec = record(f"host-{h:04d}", profile=profile, rate_qps=rate, tokens_per_s=tps, device=gpu,
                         power={"gpu-board:0": (watts, watts * 1.2), "cpu-package": (90.0, 120.0)},
                         labels={"rack": f"r{rack:02d}", "site": f"s{site}"}, ttft_p99_ms=20.0 * rate,
                         run_id=f"host-{h:04d}-{i}", started_unix_ns=1_700_000_000_000_000_000 + i)
            (folder / f"host-{h:04d}-{i:02d}.json").write_text(json.dumps(rec), encoding="utf-8")
            n += 1
    return n, slow


def _budget_text(hosts: int) -> str:
    racks, sites = math.ceil(hosts / RACK), math.ceil(hosts / (RACK * SITE))
    lines = [f"fleet_w = {hosts * 330}", 'domain = "gpu-board"']
    lines += [f"[group.site.s{s}]\nbudget_w = {RACK * SITE * 360}" for s in range(sites)]
    lines += [f"[group.rack.r{r:02d}]\nbudget_w = {RACK * 400}" for r in range(racks)]
    return "\n".join(lines) + "\n"


def part_audit(hosts: int, per_host: int, tmp: Path) -> dict[str, Any]:
    rng = random.Random(1)
    folder = tmp / "records"
    folder.mkdir()
    t0 = time.perf_counter()
    n, slow = _write_records(folder, hosts, per_host, rng)
    budget = tmp / "budget.toml"
    budget.write_text(_budget_text(hosts))
    gen_s = time.perf_counter() - t0
    cmd = [sys.executable, "-m", "wattfleet.core.cli", "audit", "--records", str(folder), "--budget", str(budget),
           "--format", "json", "--out", str(tmp / "audit.json"), "--parquet", str(tmp / "runs.parquet"),
           "--profile", "decoder-server"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    cli_s = time.perf_counter() - t0
    child_rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if result.returncode != 0:
        raise SystemExit(f"wattfleet audit failed: {result.stderr}")
    doc = json.loads((tmp / "audit.json").read_text())
    stages: dict[str, float] = {}
    t0 = time.perf_counter()
    runset = load_runs([folder])
    stages["read records"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = run_audit(runset, AuditOptions(budget=load_budget(budget), allocate=False))
    stages["audit without the optimiser (power, budgets, efficiency, outliers, points)"] = time.perf_counter() - t0
    for name, render in (("markdown", report_markdown), ("json", report_json), ("csv", report_csv),
                         ("html", report_html)):
        t0 = time.perf_counter()
        render(report)
        stages[f"render {name}"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    write_parquet(runset.runs, tmp / "again.parquet")
    stages["parquet"] = time.perf_counter() - t0
    return {
        "records": n, "hosts": hosts, "generate_s": round(gen_s, 2), "cli_wall_s": round(cli_s, 2),
        "cli_peak_rss_mib": round(child_rss_mib, 1) if child_rss_mib > before / 1024 else None,
        "stages_s": {k: round(v, 3) for k, v in stages.items()},
        "allocations": [{"profile": a["profile"], "solver": a["solver"], "status": a["status"],
                         "tokens_per_s": round(a["tokens_per_s"], 1), "power_w": round(a["power_w"], 1),
                         "next_watt": a["next_watt"]} for a in doc["allocations"]],
        "outliers": len(doc["outliers"]), "slow_hosts_made": len(slow),
        "slow_hosts_named": len(slow & {o["host"] for o in doc["outliers"]}),
        "other_hosts_named": len({o["host"] for o in doc["outliers"]} - slow),
        "budget_lines": len(doc["budget"]["lines"]),
        "command": " ".join(["wattfleet", *cmd[3:]]).replace(str(tmp), "$TMP"),
    }


def fleet_problem(hosts: int, points: int, rng: random.Random) -> Problem:
    """hosts x points concave curves; a fleet budget, sites of SITE racks, racks of RACK hosts, all binding."""
    options = []
    for _ in range(hosts):
        peak_w = rng.uniform(300, 700)
        scale = rng.uniform(2000, 5000)
        opts = []
        for k in range(points):
            w = peak_w * (0.35 + 0.65 * (k + 1) / points) * rng.uniform(0.98, 1.02)
            opts.append(Option(f"p{k}", scale * (1 - math.exp(-2.5 * w / peak_w)), round(w, 2)))
        options.append(tuple(opts))
    names = tuple(f"h{i}" for i in range(hosts))

    def most_w(members: frozenset[int]) -> float:
        return sum(max(o.power_w for o in options[h]) for h in members)

    limits = [Limit("fleet", 0.55 * most_w(frozenset(range(hosts))), frozenset(range(hosts)))]
    for s in range(math.ceil(hosts / (RACK * SITE))):
        members = frozenset(range(s * RACK * SITE, min(hosts, (s + 1) * RACK * SITE)))
        limits.append(Limit(f"site=s{s}", rng.uniform(0.55, 0.7) * most_w(members), members))
    for r in range(math.ceil(hosts / RACK)):
        members = frozenset(range(r * RACK, min(hosts, (r + 1) * RACK)))
        limits.append(Limit(f"rack=r{r}", rng.uniform(0.5, 0.8) * most_w(members), members))
    return Problem(names, tuple(options), tuple(limits))


def rounded(problem: Problem, resolution_w: float) -> Problem:
    """The same problem with powers rounded up and budgets down to the resolution (what the DP solves)."""
    opts = tuple(tuple(replace(o, power_w=math.ceil(o.power_w / resolution_w - 1e-9) * resolution_w) for o in os_)
                 for os_ in problem.options)
    lims = tuple(replace(lim, limit_w=math.floor(lim.limit_w / resolution_w + 1e-9) * resolution_w)
                 for lim in problem.limits)
    return Problem(problem.hosts, opts, lims)


def _timed(fn: Any, *args: Any, **kw: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def part_optimiser(hosts: int, resolution_w: float) -> dict[str, Any]:
    p = fleet_problem(hosts, 12, random.Random(2))
    milp, milp_s = _timed(max_tokens, p, "milp")
    dp, dp_s = _timed(max_tokens, p, "dp", resolution_w)
    pr = rounded(p, resolution_w)
    milp_r, milp_r_s = _timed(max_tokens, pr, "milp")
    binding = sum(1 for v in milp.slack_w.values() if v < 50.0)
    return {
        "hosts": hosts, "points_per_host": 12, "budgets": len(p.limits), "binding_budgets_milp": binding,
        "milp": {"tokens_per_s": round(milp.tokens_per_s, 1), "power_w": round(milp.power_w, 1),
                 "s": round(milp_s, 2), "solver": milp.solver},
        "dp": {"tokens_per_s": round(dp.tokens_per_s, 1), "power_w": round(dp.power_w, 1), "s": round(dp_s, 2),
               "solver": dp.solver},
        "milp_on_rounded": {"tokens_per_s": round(milp_r.tokens_per_s, 1), "s": round(milp_r_s, 2)},
        "dp_equals_milp_on_rounded": abs(dp.tokens_per_s - milp_r.tokens_per_s) <= 1e-6 * milp_r.tokens_per_s,
        "dp_gap_to_real_watts": round((milp.tokens_per_s - dp.tokens_per_s) / milp.tokens_per_s, 6),
    }


def part_brute(sizes: list[int]) -> list[dict[str, Any]]:
    out = []
    for n in sizes:
        p = fleet_problem(n, 12, random.Random(10 + n))
        # small fleets: one site, racks of 2 hosts, so both group levels exist
        limits = [lim for lim in p.limits if lim.name == "fleet"]
        limits.append(Limit("site=s0", p.limits[0].limit_w * 0.95, frozenset(range(n))))
        for r in range(0, n, 2):
            members = frozenset(range(r, min(n, r + 2)))
            limits.append(Limit(f"rack=r{r // 2}", 0.8 * sum(max(o.power_w for o in p.options[h]) for h in members),
                                members))
        p = Problem(p.hosts, p.options, tuple(limits))
        pi = rounded(p, 1.0)  # integer watts: the DP is exact on these too
        bf, bf_s = _timed(brute_force, pi)
        milp, milp_s = _timed(max_tokens, pi, "milp")
        dp, dp_s = _timed(max_tokens, pi, "dp", 1.0)
        out.append({"hosts": n, "combinations": 13 ** n, "brute_force_tokens_per_s": round(bf.tokens_per_s, 3),
                    "brute_force_s": round(bf_s, 2), "milp_equal": abs(milp.tokens_per_s - bf.tokens_per_s) < 1e-6,
                    "milp_s": round(milp_s, 3), "dp_equal": abs(dp.tokens_per_s - bf.tokens_per_s) < 1e-6,
                    "dp_s": round(dp_s, 3)})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--runs-per-host", type=int, default=10)
    ap.add_argument("--resolution-w", type=float, default=10.0, help="the DP's resolution at 1,000 hosts")
    ap.add_argument("--brute-sizes", default="3,4,5,6")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        audit = part_audit(args.hosts, args.runs_per_host, Path(tmp))
    opt = part_optimiser(args.hosts, args.resolution_w)
    brute = part_brute([int(s) for s in args.brute_sizes.split(",") if s])
    command = ".venv/bin/python bench/audit_scale.py" + "".join(
        f" {a}" for a in sys.argv[1:])
    env = (f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, {platform.machine()}, {os.cpu_count()} CPUs "
           f"shared with other work (1-min load {load_before:.2f} before, {os.getloadavg()[0]:.2f} after), "
           f"Python {platform.python_version()}")
    doc = {"command": command, "environment": env, "audit": audit, "optimiser": opt, "brute_force": brute}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "audit_scale.json").write_text(json.dumps(doc, indent=2) + "\n")
    md = ["# audit_scale", "", env + ".", "", f"Command: `{command}`", "",
          "## The audit: 10,000 records" if audit["records"] == 10000 else "## The audit", "",
          f"{audit['records']} synthetic schema-2 records from {audit['hosts']} hosts (2 profiles x 5 rates each), "
          f"read from JSON files; budget: fleet + {audit['budget_lines'] - 1} group budgets (sites and racks).", "",
          f"- the command, in a child process: **{audit['cli_wall_s']} s**, peak RSS "
          f"**{audit['cli_peak_rss_mib']} MiB** (`{audit['command']}`)",
          *(f"- {k}: {v} s" for k, v in audit["stages_s"].items()),
          "- allocation: " + "; ".join(
              f"{a['profile']} {a['tokens_per_s']} tok/s at {a['power_w']} W ({a['solver']}, {a['status']}); next "
              "watt: " + ", ".join(f"+{s:g} W on {n} buys {x:.1f} tok/s" for n, s, x in a["next_watt"])
              for a in audit["allocations"]),
          f"- outliers: {audit['outliers']} (host, profile) pairs named; of the {audit['slow_hosts_made']} hosts made "
          f"50% slower on purpose, {audit['slow_hosts_named']} named; other hosts named: {audit['other_hosts_named']}",
          "",
          f"## The optimiser: {opt['hosts']} hosts x 12 points, fleet + sites + racks ({opt['budgets']} budgets, "
          f"{opt['binding_budgets_milp']} binding within 50 W)", "",
          "| solver | tokens/s | W | s |", "|---|---|---|---|",
          *(f"| {opt[k]['solver']} | {opt[k]['tokens_per_s']} | {opt[k]['power_w']} | {opt[k]['s']} |"
            for k in ("milp", "dp")),
          f"| HiGHS on the same rounded powers | {opt['milp_on_rounded']['tokens_per_s']} | - | "
          f"{opt['milp_on_rounded']['s']} |", "",
          f"DP = HiGHS on the rounded problem: **{opt['dp_equals_milp_on_rounded']}**; the rounding to "
          f"{args.resolution_w:g} W costs {opt['dp_gap_to_real_watts']:.4%} of the real-watt optimum.", "",
          "## Against brute force (every combination; integer watts; fleet, one site, racks of 2)", "",
          "| hosts | combinations | brute force tok/s | brute force s | HiGHS equal | HiGHS s | DP equal | DP s |",
          "|---|---|---|---|---|---|---|---|",
          *(f"| {b['hosts']} | {b['combinations']:,} | {b['brute_force_tokens_per_s']} | {b['brute_force_s']} | "
            f"{b['milp_equal']} | {b['milp_s']} | {b['dp_equal']} | {b['dp_s']} |" for b in brute)]
    (args.out / "audit_scale.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
