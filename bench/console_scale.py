"""The console's fleet model at fleet scale: 1,000 simulated agents, one telemetry message a second each.

Side by side, per simulated second of data (CPU seconds, process_time):
  decode only:   parse each agent's serialized TelemetryBatch and turn it into our dataclasses;
  console:       the same, plus folding it into the fleet model and the two coalesced redraws a second
                 (stale marks, the strip, every host row, the heatmap grid).
Then the heatmap frame for 1,000 hosts x 8 profiles: building the grid, and drawing the rows of one screen
(48 lines, what the Line API draws) and of all 1,000; and the model's memory (tracemalloc).

    .venv/bin/python bench/console_scale.py [--hosts 1000] [--seconds 5] [--profiles 8]

Writes bench/results/console_scale.json and .md. Targets (issue 10): under half a core, under 50 ms a frame.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from wattfleet.core import wire
from wattfleet.core.model import PowerReading, TelemetryBatch
from wattfleet.tui.fleet.heatmap import build_grid
from wattfleet.tui.fleet.live.connection import power_readings
from wattfleet.tui.fleet.model import FleetModel
from wattfleet.tui.fleet.sample import sample_record
from wattfleet.tui.fleet.summary import fleet_strip, host_row
from wattfleet.tui.widgets.heatmap import row_segments

RESULTS = Path(__file__).resolve().parent / "results"
SAMPLES_PER_S = 20  # the agent's default sampler rate, merged into one message a second


def messages(hosts: int, second: int) -> list[bytes]:
    out = []
    for h in range(hosts):
        t0 = (second * 1_000_000_000) + h
        power = tuple(PowerReading(src, dom, t0 + i * 50_000_000, 100.0 + (h % 50) + i, None)
                      for i in range(SAMPLES_PER_S) for src, dom in (("nvml", "gpu-board:0"), ("rapl", "cpu-package")))
        out.append(wire.telemetry_batch_to_proto(TelemetryBatch(second * SAMPLES_PER_S, power)).SerializeToString())
    return out


def decode(data: bytes) -> TelemetryBatch:
    msg = wire.Pb.TelemetryBatch()
    msg.ParseFromString(data)
    return wire.telemetry_batch_from_proto(msg)


def run_stream(hosts: int, seconds: int, fold: bool) -> tuple[float, FleetModel]:
    clock = [0.0]
    model = FleetModel(clock=lambda: clock[0])
    keys = [f"mdns:host-{h:04d}" for h in range(hosts)]
    for key in keys:
        model.upsert_host(key, key[5:])
    data = [messages(hosts, s) for s in range(seconds)]
    cpu = 0.0
    for s in range(seconds):
        clock[0] = float(s)
        t = time.process_time()
        for key, blob in zip(keys, data[s], strict=True):
            batch = decode(blob)
            if fold:
                model.on_power(key, power_readings(batch))
        if fold:
            for _redraw in range(2):  # the console's tick is 0.5 s: two coalesced redraws per second
                model.tick()
                fleet_strip(model.hosts.values())
                rows = [host_row(h) for h in model.sorted_hosts()]
                build_grid([model.hosts[r.key] for r in rows])
        cpu += time.process_time() - t
    return cpu / seconds, model


def heatmap(hosts: int, profiles: int) -> dict[str, float]:
    model = FleetModel()
    for h in range(hosts):
        key = f"mdns:host-{h:04d}"
        model.upsert_host(key, key[5:])
        for p in range(profiles):
            model.add_record(key, sample_record(key[5:], f"profile-{p}", p, 100.0 + h, 1.0 + (h * 7 + p) % 13,
                                                "gpu-board:0", "GPU"))
    host_list = model.sorted_hosts()
    build_ms, screen_ms, full_ms = [], [], []
    t = time.perf_counter()
    build_grid(host_list)
    cold_ms = (time.perf_counter() - t) * 1e3  # the first frame reads every record's figures
    for _ in range(5):
        t = time.perf_counter()
        grid = build_grid(host_list)
        build_ms.append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter()
        for r in range(48):
            row_segments(grid, r, 0, profiles, (0, 0))
        screen_ms.append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter()
        for r in range(hosts):
            row_segments(grid, r, 0, profiles, (0, 0))
        full_ms.append((time.perf_counter() - t) * 1e3)
    return {"grid_build_cold_ms": cold_ms, "grid_build_ms": statistics.median(build_ms),
            "draw_screen_48_rows_ms": statistics.median(screen_ms),
            "draw_all_rows_ms": statistics.median(full_ms),
            "frame_ms": statistics.median(build_ms) + statistics.median(screen_ms)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--hosts", type=int, default=1000)
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--profiles", type=int, default=8)
    args = p.parse_args()
    decode_cpu, _ = run_stream(args.hosts, args.seconds, fold=False)
    tracemalloc.start()
    kept = run_stream(args.hosts, args.seconds, fold=True)  # the model stays alive while it is measured
    model_bytes = tracemalloc.take_snapshot().statistics("filename")
    tracemalloc.stop()
    del kept
    console_cpu_untraced, _ = run_stream(args.hosts, args.seconds, fold=True)
    frame = heatmap(args.hosts, args.profiles)
    result: dict[str, Any] = {
        "command": "python bench/console_scale.py " + " ".join(sys.argv[1:]),
        "hosts": args.hosts, "seconds": args.seconds, "profiles": args.profiles,
        "samples_per_message": SAMPLES_PER_S * 2,
        "decode_only_cpu_s_per_s": decode_cpu,
        "console_cpu_s_per_s": console_cpu_untraced,
        "console_share_of_a_core": console_cpu_untraced,
        "target_share_of_a_core": 0.5,
        **frame, "target_frame_ms": 50.0,
        "memory_traced_mb": sum(s.size for s in model_bytes) / 1e6,
        "cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "console_scale.json").write_text(json.dumps(result, indent=2) + "\n")
    md = [
        "# console_scale: the console's fleet model fed by a simulated fleet",
        "",
        f"Command: `{result['command']}` ({result['cpus']} CPUs, Python {result['python']}).",
        f"{args.hosts} agents, one TelemetryBatch a second each ({result['samples_per_message']} power readings: "
        f"two domains at {SAMPLES_PER_S} Hz), {args.seconds} simulated seconds.",
        "",
        "| measure | decode only | console (decode + fold + 2 redraws/s) | target |",
        "|---|---|---|---|",
        f"| CPU per second of data | {decode_cpu:.3f} core | {console_cpu_untraced:.3f} core | < 0.5 core |",
        f"| heatmap frame, {args.hosts} x {args.profiles} (grid + one 48-row screen) | - "
        f"| {frame['frame_ms']:.1f} ms | < 50 ms |",
        f"| of which grid build / 48 rows drawn | - | {frame['grid_build_ms']:.1f} / "
        f"{frame['draw_screen_48_rows_ms']:.2f} ms | |",
        f"| first frame after the records arrive (every figure read once) | - "
        f"| {frame['grid_build_cold_ms'] + frame['draw_screen_48_rows_ms']:.1f} ms | |",
        f"| all {args.hosts} rows drawn (what a widget per cell would pay) | - "
        f"| {frame['draw_all_rows_ms']:.1f} ms | |",
        f"| memory held by the model and its inputs (tracemalloc) | - | {result['memory_traced_mb']:.1f} MB | |",
        "",
        "The console's cost includes decoding; its redraws are coalesced (twice a second whatever the message rate).",
    ]
    (RESULTS / "console_scale.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
