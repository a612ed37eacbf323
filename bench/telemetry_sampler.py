"""The sampler's own cost: CPU share of one core at 20 Hz over fake sources, and its tick jitter.

Scenarios side by side in one run, each for --seconds:
  idle        no sampler: the interpreter's own background cost (the floor)
  wake-only   a sampler whose one source reads nothing: the cost of waking 20 times a second (thread
              wake-up, GIL, the tick loop), which every real scenario pays before it reads anything
  all         every fake source at once: NVML (2 GPUs, one with module scope), Jetson hwmon and iio
              trees, RAPL (2 packages), hwmon (amdgpu + xe), a looping replay trace, the estimate
  all-loaded  the same while the main thread burns CPU in pure Python, holding the GIL (worst case)
  all-loaded-si1ms  all-loaded with sys.setswitchinterval(0.001) (default 0.005): the agent's knob
  all-native  the same while the main thread runs numpy matrix products, which release the GIL as
              ONNX Runtime inference does (the agent's real situation)
  gpu-server  what a GPU server has: NVML (2 GPUs) + RAPL (2 packages) + hwmon
  jetson      what a Jetson has: INA3221 rails through hwmon
CPU share = process CPU time / wall time, minus idle (for all-loaded: the sampler thread's own CPU
clock). Jitter = how late each tick started after its scheduled time (nearest-rank p50/p99, max).
`hot tick` = mean CPU of one tick in a tight loop (warm caches), the floor of what a tick costs.
Writes bench/results/telemetry_sampler.json and .md.

    .venv/bin/python bench/telemetry_sampler.py [--seconds 15] [--rate-hz 20]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fakes live with the tests

from tests.telemetry.fake_nvml import FakeGpu, FakeNvml  # noqa: E402
from tests.telemetry.fake_sysfs import jetson_iio, jetson_orin_hwmon, rapl_tree, write  # noqa: E402
from wattfleet.agent.telemetry import Reading, Sample, Sampler, Source, TraceRecorder  # noqa: E402
from wattfleet.agent.telemetry.estimated import EstimatedSource  # noqa: E402
from wattfleet.agent.telemetry.hwmon import HwmonSource  # noqa: E402
from wattfleet.agent.telemetry.jetson import JetsonSource  # noqa: E402
from wattfleet.agent.telemetry.nvml import NvmlSource  # noqa: E402
from wattfleet.agent.telemetry.rapl import RaplSource  # noqa: E402
from wattfleet.agent.telemetry.replay import ReplaySource  # noqa: E402


def make_trees(tmp: Path) -> dict[str, Callable[[], Source]]:
    jh, ji, rp, hw = tmp / "jetson-hwmon", tmp / "jetson-iio", tmp / "rapl", tmp / "hwmon"
    jetson_orin_hwmon(jh)
    jetson_iio(ji)
    rapl_tree(rp, packages=2)
    write(hw, {"sys/class/hwmon/hwmon1/name": "amdgpu", "sys/class/hwmon/hwmon1/power1_average": 45_000_000,
               "sys/class/hwmon/hwmon1/power1_label": "PPT", "sys/class/hwmon/hwmon2/name": "xe",
               "sys/class/hwmon/hwmon2/energy1_input": 0, "sys/class/hwmon/hwmon2/energy1_label": "card"})
    trace = tmp / "trace.csv"
    with TraceRecorder(trace) as rec:
        rec.write(Sample(i + 1, i * 50_000_000, "nvml", "gpu-board:9", 200.0 + i % 7, None) for i in range(200))
    return {
        "nvml": lambda: NvmlSource(FakeNvml([FakeGpu(), FakeGpu(name="NVIDIA GH200 480GB", module_mw=650_000)])),
        "jetson-hwmon": lambda: JetsonSource(jh),
        "jetson-iio": lambda: JetsonSource(ji),
        "rapl": lambda: RaplSource(rp),
        "hwmon": lambda: HwmonSource(hw),
        "replay": lambda: ReplaySource(trace, loop=True),
        "estimated": lambda: EstimatedSource(tdp_w=65.0),
        "nothing": NothingSource,
    }


class NothingSource(Source):
    """Reads nothing: a sampler over it costs only its wake-ups."""

    def __init__(self) -> None:
        self.name = "nothing"
        self.domains = ()

    def read(self, t_ns: int) -> list[Reading]:
        return []


SETS = {
    "all": ["nvml", "jetson-hwmon", "jetson-iio", "rapl", "hwmon", "replay", "estimated"],
    "wake-only": ["nothing"],
    "gpu-server": ["nvml", "rapl", "hwmon"],
    "jetson": ["jetson-hwmon"],
}


def pct_ms(values: list[int], p: float) -> float:
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)] / 1e6 if s else math.nan


def burn(stop: threading.Event) -> int:
    n = 0
    while not stop.is_set():
        n += sum(i * i for i in range(2000))
    return n


def burn_native(stop: threading.Event) -> float:
    import numpy as np

    a = np.random.default_rng(0).random((384, 384))
    total = 0.0
    while not stop.is_set():
        total += float((a @ a)[0, 0])
    return total


def hot_tick_us(sources: list[Source], rate_hz: float) -> float:
    s = Sampler(sources, rate_hz=rate_hz)
    t = time.monotonic_ns()
    for _ in range(20):
        s.tick(t)
        t += s.period_ns
    c0 = time.thread_time_ns()
    for _ in range(200):
        s.tick(t)
        t += s.period_ns
    return (time.thread_time_ns() - c0) / 200 / 1e3


def per_source_us(makers: dict[str, Callable[[], Source]]) -> dict[str, float]:
    """Warm-cache CPU of one read() of each source alone (the fake NVML's own Python is included)."""
    out: dict[str, float] = {}
    for key, make in makers.items():
        if key == "nothing":
            continue
        src = make()
        t = time.monotonic_ns()
        for _ in range(20):
            src.read(t)
            t += 50_000_000
        c0 = time.thread_time_ns()
        for _ in range(200):
            src.read(t)
            t += 50_000_000
        out[key] = round((time.thread_time_ns() - c0) / 200 / 1e3, 1)
        src.close()
    return out


def run(name: str, seconds: float, rate_hz: float, makers: dict[str, Callable[[], Source]]) -> dict[str, Any]:
    set_name = "all" if name.startswith("all") else name
    sources = [makers[k]() for k in SETS.get(set_name, [])]
    out: dict[str, Any] = {"scenario": name, "sources": [s.name for s in sources]}
    if sources:
        out["hot_tick_us"] = round(hot_tick_us(sources, rate_hz), 1)
        sources = [makers[k]() for k in SETS[set_name]]  # fresh state for the timed run
    sampler = Sampler(sources, rate_hz=rate_hz) if sources else None
    cpu0, wall0 = time.process_time(), time.perf_counter()
    thread_cpu_s = math.nan
    if sampler is None:
        time.sleep(seconds)
    else:
        sampler.start()
        assert sampler._thread is not None and sampler._thread.ident is not None
        clock = time.pthread_getcpuclockid(sampler._thread.ident)
        t_cpu0 = time.clock_gettime(clock)
        if name.startswith(("all-loaded", "all-native")):
            stop = threading.Event()
            timer = threading.Timer(seconds, stop.set)
            old_si = sys.getswitchinterval()
            if name.endswith("si1ms"):
                sys.setswitchinterval(0.001)
            timer.start()
            try:
                (burn if name.startswith("all-loaded") else burn_native)(stop)
            finally:
                sys.setswitchinterval(old_si)
        else:
            time.sleep(seconds)
        thread_cpu_s = time.clock_gettime(clock) - t_cpu0
        sampler.stop()
    cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - wall0
    out.update({"wall_s": round(wall_s, 3), "process_cpu_pct": round(100 * cpu_s / wall_s, 4)})
    if sampler is not None:
        late = sampler.lateness_ns()
        out.update({
            "thread_cpu_pct": round(100 * thread_cpu_s / wall_s, 4),
            "ticks": sampler.ticks, "overruns": sampler.overruns,
            "domains": len({s.domain for s in sampler.samples_after(max(0, sampler.latest_seq - 100))}),
            "jitter_p50_ms": round(pct_ms(late, 50), 3), "jitter_p99_ms": round(pct_ms(late, 99), 3),
            "jitter_max_ms": round(max(late) / 1e6, 3),
        })
    for s in sources:
        s.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--rate-hz", type=float, default=20.0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="wattfleet-bench-") as tmp:
        makers = make_trees(Path(tmp))
        per_source = per_source_us(makers)
        results = [run(s, args.seconds, args.rate_hz, makers)
                   for s in ("idle", "wake-only", "all", "all-loaded", "all-loaded-si1ms", "all-native", "gpu-server",
                             "jetson")]
    by = {r["scenario"]: r for r in results}
    idle = by["idle"]["process_cpu_pct"]
    for r in results:
        if r["scenario"] in ("wake-only", "all", "gpu-server", "jetson"):
            r["sampler_cpu_pct"] = round(r["process_cpu_pct"] - idle, 4)
    net = by["all"]["sampler_cpu_pct"]
    summary = {
        "bench": "telemetry_sampler",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {"machine": platform.machine(), "python": platform.python_version(), "cpus": os.cpu_count(),
                 "loadavg_1m_before": round(load0[0], 2), "loadavg_1m_after": round(os.getloadavg()[0], 2)},
        "rate_hz": args.rate_hz, "seconds_per_scenario": args.seconds,
        "sampler_cpu_pct_all_sources": net, "target_cpu_pct": 1.0, "meets_target": net <= 1.0,
        "scenarios": results,
        "hot_read_us_per_source": per_source,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "telemetry_sampler.json").write_text(json.dumps(summary, indent=2) + "\n")
    h = summary["host"]
    md = [
        "# telemetry_sampler",
        "",
        f"{summary['date_utc']}, {h['machine']}, {h['cpus']} CPUs shared with other work (1-min load "
        f"{h['loadavg_1m_before']} before, {h['loadavg_1m_after']} after), Python {h['python']}; "
        f"{args.rate_hz:g} Hz, {args.seconds:g} s per scenario, fake sources (real files in a tmp folder, "
        "a fake NVML module).",
        "",
        "Command: `.venv/bin/python bench/telemetry_sampler.py`",
        "",
        "| scenario | domains | sampler CPU % of one core | thread CPU % | hot tick µs | ticks | overruns "
        "| jitter p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        def g(key: str, r: dict[str, Any] = r) -> str:
            v = r.get(key)
            return "-" if v is None else str(v)
        md.append(f"| {r['scenario']} | {g('domains')} | {g('sampler_cpu_pct')} | {g('thread_cpu_pct')} | "
                  f"{g('hot_tick_us')} | {g('ticks')} | {g('overruns')} | {g('jitter_p50_ms')} | "
                  f"{g('jitter_p99_ms')} | {g('jitter_max_ms')} |")
    md += ["", "Warm-cache CPU of one read, per source (µs): "
           + ", ".join(f"{k} {v}" for k, v in per_source.items()) + "."]
    md += [
        "",
        f"Every fake source at once: **{net:.2f}% of one core** (target <= 1%: "
        f"{'met' if net <= 1.0 else 'NOT met'}). idle = {idle:.3f}% (subtracted). Of that share, "
        f"{by['wake-only']['sampler_cpu_pct']:.2f}% is the wake-up alone (wake-only: a sampler reading nothing, "
        "20 wake-ups a second on this VM), paid whatever the sources.",
        "Sysfs files are kept open and read with pread; the fake trees are regular files, so each read also "
        "checks the file is still linked (one fstat), which files on the real sysfs and procfs skip. The fake "
        "NVML builds its ctypes structs in Python, as pynvml does; the driver call itself is not in these "
        "figures.",
        f"Under native load (all-native, GIL released as in inference) jitter p99 = "
        f"{by['all-native']['jitter_p99_ms']} ms, {by['all-native']['overruns']} ticks skipped. Under pure-Python "
        f"load (all-loaded) p99 = {by['all-loaded']['jitter_p99_ms']} ms, {by['all-loaded']['overruns']} skipped: "
        "every file read releases the GIL and waits up to the 5 ms switch interval to get it back (convoy); "
        f"with a 1 ms switch interval: p99 {by['all-loaded-si1ms']['jitter_p99_ms']} ms, "
        f"{by['all-loaded-si1ms']['overruns']} skipped.",
        "hot tick x rate = the cost with warm caches; the gap to the measured share is cache and scheduler "
        "cost on a busy shared machine. Real NVML calls enter the driver and cost more than the fake.",
    ]
    (args.out / "telemetry_sampler.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
