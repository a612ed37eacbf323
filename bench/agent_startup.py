"""Agent cold start to SERVING (median of N) and idle RSS, with and without the provider probe.

Side by side in one run, interleaved, against a baseline of a bare interpreter importing grpc, so the
ratios survive a noisy machine. Writes bench/results/agent_startup.json and .md.

    .venv/bin/python bench/agent_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def agent_start(probe: bool, idle_s: float) -> tuple[float, int]:
    """Seconds from exec to the ready file (written once health says SERVING), and RSS after idling."""
    with tempfile.TemporaryDirectory() as tmp:
        ready = Path(tmp) / "ready.json"
        args = [sys.executable, "-m", "wattfleet.core.cli", "agent", "--listen", "127.0.0.1", "--port", "0",
                "--data-dir", tmp, "--ready-file", str(ready), "--no-advertise"]
        if not probe:
            args.append("--no-probe")
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not ready.exists():
            if proc.poll() is not None:
                raise SystemExit(f"agent exited with {proc.returncode}")
            time.sleep(0.005)
        elapsed = time.perf_counter() - t0
        time.sleep(idle_s)
        rss = _rss_kib(proc.pid)
        proc.terminate()
        proc.wait(timeout=30)
    return elapsed, rss


def baseline_start() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import grpc"], check=True)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle-s", type=float, default=2.0)
    args = parser.parse_args()
    rows: dict[str, list[float]] = {"baseline_s": [], "no_probe_s": [], "probe_s": []}
    rss: dict[str, list[int]] = {"no_probe_kib": [], "probe_kib": []}
    for i in range(args.runs):  # interleaved so drift hits all three alike
        rows["baseline_s"].append(baseline_start())
        t, r = agent_start(False, args.idle_s)
        rows["no_probe_s"].append(t)
        rss["no_probe_kib"].append(r)
        t, r = agent_start(True, args.idle_s)
        rows["probe_s"].append(t)
        rss["probe_kib"].append(r)
        print(f"run {i + 1}/{args.runs}: no-probe {rows['no_probe_s'][-1]:.2f} s, probe {rows['probe_s'][-1]:.2f} s",
              file=sys.stderr)
    med = {k: statistics.median(v) for k, v in rows.items()}
    result = {
        "bench": "agent_startup",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": _cpus()},
        "runs": args.runs,
        "median_s": med,
        "ratio_no_probe_to_baseline": med["no_probe_s"] / med["baseline_s"],
        "ratio_probe_to_no_probe": med["probe_s"] / med["no_probe_s"],
        "idle_rss_mib_median": {k: statistics.median(v) / 1024 for k, v in rss.items()},
        "raw": {**rows, **rss},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "agent_startup.json").write_text(json.dumps(result, indent=2) + "\n")
    rss_mib = result["idle_rss_mib_median"]
    md = [
        "# Agent cold start and idle memory",
        "",
        f"`{' '.join(['.venv/bin/python', 'bench/agent_startup.py', '--runs', str(args.runs)])}` on {result['when']},"
        f" {result['machine']['platform']}, {result['machine']['cpus']} CPUs. Median of {args.runs}, interleaved.",
        "",
        "| what | median | idle RSS |",
        "|---|---|---|",
        f"| bare `python -c 'import grpc'` (baseline) | {med['baseline_s']:.2f} s | |",
        f"| agent to SERVING, `--no-probe` | {med['no_probe_s']:.2f} s "
        f"({result['ratio_no_probe_to_baseline']:.1f}x baseline) | {rss_mib['no_probe_kib']:.0f} MiB |",
        f"| agent to SERVING, probing execution providers | {med['probe_s']:.2f} s "
        f"({result['ratio_probe_to_no_probe']:.2f}x no-probe) | {rss_mib['probe_kib']:.0f} MiB |",
        "",
    ]
    (RESULTS / "agent_startup.md").write_text("\n".join(md))
    print("\n".join(md))
    return 0


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
