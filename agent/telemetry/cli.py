"""`wattfleet telemetry`: live power readings from this host's sources, and why the others are missing."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any, TextIO

from wattfleet.agent.telemetry.devices import list_devices
from wattfleet.agent.telemetry.discover import KINDS, build_sources
from wattfleet.agent.telemetry.replay import TraceRecorder
from wattfleet.agent.telemetry.sampler import Sampler
from wattfleet.agent.telemetry.source import Source, SourceUnavailable
from wattfleet.agent.telemetry.types import DeviceReading, Sample, SourceStatus
from wattfleet.core.errors import UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse exits; we raise so the dispatcher reports it
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="wattfleet telemetry",
        description="Show live power readings from the sources found on this host, and for each source "
        "looked for and not found, why.",
        epilog="SPEC is one of: " + ", ".join(KINDS) + ". Examples: --source replay:trace.csv, "
        "--source rapl:/tmp/fake-root, --source estimated:tdp_w=65, --source nvml:0. "
        "Without --source every kind is looked for.",
    )
    p.add_argument("--source", action="append", default=[], metavar="SPEC", help="use this source (repeatable)")
    p.add_argument("--json", action="store_true", help="one JSON object per report (JSON Lines)")
    p.add_argument("--once", action="store_true", help="one report, then exit (same as --count 1)")
    p.add_argument("--count", type=int, default=0, help="stop after N reports (default: until Ctrl-C)")
    p.add_argument("--interval-s", type=float, default=1.0, help="seconds between reports (default 1)")
    p.add_argument("--rate-hz", type=float, default=20.0, help="sampling rate (default 20)")
    p.add_argument("--record", metavar="PATH", help="also write every sample to a trace file (CSV)")
    p.add_argument("--devices", action="store_true", help="list this host's devices first")
    return p


def _fmt(v: float | None, digits: int = 2) -> str:
    return "-" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


def _status_lines(statuses: list[SourceStatus]) -> list[str]:
    width = max(len(s.name) for s in statuses)
    lines = ["sources:"]
    for s in statuses:
        mark = "found " if s.available else "absent" if s.detail.startswith("absent") else "NOT OK"
        doms = ", ".join(s.domains) if s.available else ""
        lines.append(f"  {mark} {s.name:<{width}}  {doms + ' | ' if doms else ''}{s.detail}")
    return lines


class _Report:
    """Builds one report per interval from what the sampler gathered since the last one."""

    def __init__(self, sampler: Sampler, sources: list[Source]) -> None:
        self.sampler = sampler
        self.src_of = {d: s.name for s in sources for d in s.domains}
        self.last_seq = 0
        self.last_dev_seq = 0
        self.latest: dict[str, Sample] = {}

    def build(self, t0_ns: int, t1_ns: int) -> dict[str, Any]:
        new = self.sampler.samples_after(self.last_seq)
        missing: dict[str, int] = {}
        for s in new:
            self.last_seq = s.seq
            if s.missing:
                missing[s.domain] = missing.get(s.domain, 0) + 1
            else:
                self.latest[s.domain] = s
        devices: dict[str, DeviceReading] = {}
        for d in self.sampler.device_samples_after(self.last_dev_seq):
            devices[d.device] = d
        self.last_dev_seq = self.sampler.latest_device_seq
        windows = self.sampler.energy(t0_ns, t1_ns)
        rows = []
        for domain in sorted(set(self.latest) | set(missing)):
            last = self.latest.get(domain)
            w = windows.get(domain)
            rows.append({
                "domain": domain,
                "source": last.source if last else self.src_of.get(domain, ""),
                "power_w": last.power_w if last else None,
                "power_avg_w": w.power_avg_w if w else None,
                "energy_j": last.energy_j if last else None,
                "missing_reads": missing.get(domain, 0),
                "estimated": domain == "estimated",
            })
        return {"t_ns": t1_ns, "interval_s": (t1_ns - t0_ns) / 1e9, "rate_hz": self.sampler.rate_hz,
                "readings": rows, "devices": [_device_dict(d) for d in devices.values()]}


def _device_dict(d: DeviceReading) -> dict[str, Any]:
    return {"device": d.device, "utilization_pct": d.utilization_pct, "memory_used_bytes": d.memory_used_bytes,
            "temperature_c": d.temperature_c, "sm_clock_mhz": d.sm_clock_mhz, "mem_clock_mhz": d.mem_clock_mhz,
            "power_limit_w": d.power_limit_w, "throttle_reasons": list(d.throttle_reasons)}


def _print_table(rep: dict[str, Any], out: TextIO) -> None:
    out.write(f"\n{'domain':<28} {'source':<13} {'power_w':>9} {'avg_w':>9} {'counter_j':>12}  note\n")
    for r in rep["readings"]:
        note = []
        if r["estimated"]:
            note.append("ESTIMATE, not a measurement")
        if r["missing_reads"]:
            note.append(f"{r['missing_reads']} read(s) failed")
        out.write(f"{r['domain']:<28} {r['source']:<13} {_fmt(r['power_w']):>9} {_fmt(r['power_avg_w']):>9} "
                  f"{_fmt(r['energy_j'], 3):>12}  {'; '.join(note)}\n")
    for d in rep["devices"]:
        mem = d["memory_used_bytes"]
        out.write(f"{d['device']:<8} util {_fmt(d['utilization_pct'], 0)}%  "
                  f"mem {_fmt(None if mem is None else mem / 2**30, 1)} GiB  temp {_fmt(d['temperature_c'], 0)} C  "
                  f"sm {_fmt(d['sm_clock_mhz'], 0)} MHz  mem {_fmt(d['mem_clock_mhz'], 0)} MHz  "
                  f"limit {_fmt(d['power_limit_w'], 0)} W  throttle {','.join(d['throttle_reasons']) or '-'}\n")
    out.flush()


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    count = 1 if args.once else args.count
    if count < 0:
        raise UsageError(f"--count must be 0 (until Ctrl-C) or more, got {count}")
    if not 0.05 <= args.interval_s <= 3600:
        raise UsageError(f"--interval-s must be between 0.05 and 3600, got {args.interval_s}")
    out = sys.stdout
    sources, statuses = build_sources(args.source)
    if args.devices and not args.json:
        out.write("devices:\n")
        for d in list_devices():
            out.write(f"  {d.kind}:{d.index} {d.name}" + (f" ({d.driver})" if d.driver else "") + "\n")
    if not args.json:
        out.write("\n".join(_status_lines(statuses)) + "\n")
    if not sources:
        raise SourceUnavailable("no power source works on this host (see above); try --source "
                                "estimated:tdp_w=N or --source replay:TRACE")
    recorder = TraceRecorder(args.record) if args.record else None
    sampler = Sampler(sources, rate_hz=args.rate_hz)
    report = _Report(sampler, sources)
    done = 0
    try:
        sampler.start()
        t0 = time.monotonic_ns()
        while count == 0 or done < count:
            time.sleep(args.interval_s)
            t1 = time.monotonic_ns()
            rep = report.build(t0, t1)
            if recorder is not None:
                recorder.pull(sampler)
            if args.json:
                rep["sources"] = [{"name": s.name, "domains": list(s.domains), "available": s.available,
                                   "detail": s.detail} for s in sampler.statuses()] + \
                                 [{"name": s.name, "domains": list(s.domains), "available": False,
                                   "detail": s.detail} for s in statuses if not s.available]
                out.write(json.dumps(rep) + "\n")
                out.flush()
            else:
                _print_table(rep, out)
            t0, done = t1, done + 1
    except KeyboardInterrupt:
        pass  # Ctrl-C ends a live view; what was gathered is already printed
    finally:
        sampler.stop()
        if recorder is not None:
            recorder.pull(sampler)
            recorder.close()
        for s in sources:
            s.close()
    return 0
