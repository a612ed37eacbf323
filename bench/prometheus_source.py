"""The console's Prometheus source against 1,000 simulated hosts, beside streaming the same from agents.

A bounded generator (a subprocess) serves 1,000 hosts' series as one /metrics target, rendered by the
agent's own exporter code (agent/service/exporter.py: one MetricsState per host, merged into one
exposition), with power, energy, tokens and run states that move every scrape. A real Prometheus
(Debian's `prometheus`, loopback, storage in a temporary folder) scrapes it every second. Then:

  prometheus  PrometheusFleetSource.refresh() --refreshes times: wall time, this process's CPU (HTTP,
              JSON decode, folding), bytes received, queries, and Prometheus's own CPU per refresh
              (its /proc CPU during the refreshes minus its ingest-only rate over as long a window).
  streaming   what the console would decode to show the same from 1,000 agents' gRPC streams, per
              second of fleet time: one TelemetryBatch per host (two power domains and one device at
              the agent's default 20 Hz) and one RunEvent TokenBatch per host (--tokens-per-s each),
              parsed from bytes and turned into our dataclasses (wire.py), the floor of streaming's cost
              (gRPC framing, TLS and 1,000 open streams come on top).

Writes bench/results/prometheus_source.md and .json.

    .venv/bin/python bench/prometheus_source.py [--hosts 1000] [--fill-s 20] [--refreshes 10]
"""

from __future__ import annotations

import argparse
import http.server
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS = shutil.which("prometheus")
SITES, RACKS = 10, 100


# --- the generator (runs in a subprocess: `--serve PORT`) -----------------------------------------


def serve(hosts: int, port: int, seed: int) -> None:
    """Serve `hosts` agents' series on 127.0.0.1:port/metrics until killed; values move every scrape."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.registry import Collector

    from wattfleet.agent.service.exporter import AgentCollector, MetricsState

    rng = random.Random(seed)
    states: list[tuple[MetricsState, dict[str, float]]] = []
    for i in range(hosts):
        gpu = i % 3 != 2
        labels = {"site": f"site-{i % SITES}", "rack": f"rack-{i % RACKS}",
                  "device_model": "NVIDIA H100 80GB HBM3" if gpu else "Intel(R) Xeon(R) Gold 6430"}
        state = MetricsState(f"sim-{i:05d}", "0.1.0", labels)
        shape = {"gpu": 1.0 if gpu else 0.0, "base_w": rng.uniform(150, 300) if gpu else rng.uniform(40, 120),
                 "tok_s": rng.uniform(100, 600), "e_gpu": 0.0, "e_cpu": 0.0, "tokens": 0.0}
        states.append((state, shape))
    last = [time.monotonic()]
    lock = threading.Lock()

    class Fleet(Collector):
        def collect(self) -> Any:
            with lock:
                now = time.monotonic()
                dt, last[0] = now - last[0], now
                for state, s in states:
                    busy = rng.random() < 0.7
                    power = s["base_w"] * (1.0 if busy else 0.4) * rng.uniform(0.95, 1.05)
                    if s["gpu"]:
                        s["e_gpu"] += power * dt
                        s["e_cpu"] += 45.0 * dt
                        state.set_power("nvml", "gpu-board:0", power, s["e_gpu"])
                        state.set_power("rapl", "cpu-package", 45.0, s["e_cpu"])
                    else:
                        s["e_cpu"] += power * dt
                        state.set_power("estimated", "estimated", power, s["e_cpu"])
                    tokens = int(s["tok_s"] * dt) if busy else 0
                    state.count_output(tokens=tokens, queries=tokens // 128)
                    state.set_run_state("measuring" if busy else "idle", "run" if busy else "")
                merged: dict[str, Any] = {}
                for state, _ in states:
                    for family in AgentCollector(state).collect():
                        if family.name in merged:
                            merged[family.name].samples.extend(family.samples)
                        else:
                            merged[family.name] = family
            yield from merged.values()

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fleet())

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = generate_latest(registry)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # Prometheus gave up on a slow scrape (scrape_timeout); the next one comes

        def log_message(self, format: str, *args: object) -> None:
            return

    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


# --- the measurement ------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def _wait(check: Any, timeout_s: float, what: str) -> Any:
    from wattfleet.core.errors import WattfleetError

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            got = check()
        except (OSError, WattfleetError):  # still starting; the deadline decides
            got = None
        if got:
            return got
        time.sleep(0.5)
    raise SystemExit(f"prometheus_source: timed out waiting for {what}")


def measure_prometheus(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from wattfleet.tui.fleet.prom_fleet import PrometheusFleetSource
    from wattfleet.tui.fleet.promql import PromClient

    gen_port, prom_port = _free_port(), _free_port()
    gen = subprocess.Popen([sys.executable, __file__, "--serve", str(gen_port), "--hosts", str(args.hosts)])
    prom = None
    try:
        _wait(lambda: urllib.request.urlopen(f"http://127.0.0.1:{gen_port}/metrics", timeout=10).status == 200,
              60, "the generator")
        config = work / "prometheus.yml"
        config.write_text(json.dumps({
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": "wattfleet", "honor_labels": True,
                                "static_configs": [{"targets": [f"127.0.0.1:{gen_port}"]}]}]}))
        assert PROMETHEUS is not None
        prom = subprocess.Popen([PROMETHEUS, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{prom_port}",
                                 f"--storage.tsdb.path={work / 'data'}", "--log.level=warn"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{prom_port}"
        client = PromClient(url, timeout_s=30)
        _wait(lambda: [s.value for s in client.query("count(wattfleet_agent_info)")] == [float(args.hosts)], 90,
              f"Prometheus to hold {args.hosts} hosts")
        filled_from = time.time()
        time.sleep(args.fill_s)  # let the range fill: --fill-s scrapes per series
        series = client.query('count({job="wattfleet"})')[0].value
        scrapes = client.query('scrape_duration_seconds{job="wattfleet"}')[0].value
        source = PrometheusFleetSource(client, range_s=args.fill_s)
        source.refresh()  # warm: connections, Prometheus's caches
        idle_cpu0, idle_t0 = _cpu_s(prom.pid), time.perf_counter()
        time.sleep(args.refreshes * 0.5)
        ingest_cpu_per_s = (_cpu_s(prom.pid) - idle_cpu0) / (time.perf_counter() - idle_t0)
        walls, cpus, sizes, snaps = [], [], [], []
        prom_cpu0, t0 = _cpu_s(prom.pid), time.perf_counter()
        for _ in range(args.refreshes):
            c0 = time.process_time()
            snap = source.refresh()
            cpus.append(time.process_time() - c0)
            walls.append(snap.elapsed_s)
            sizes.append(snap.bytes_received)
            snaps.append(snap)
        span = time.perf_counter() - t0
        prom_cpu = (_cpu_s(prom.pid) - prom_cpu0) - ingest_cpu_per_s * span
        source.close()
        last = snaps[-1]
        return {
            "hosts": args.hosts, "series_in_prometheus": int(series), "scrape_interval_s": 1.0,
            "generator_scrape_s": round(scrapes, 3), "range_s": args.fill_s,
            "samples_per_series_in_range": args.fill_s, "filled_at_unix_s": round(filled_from, 1),
            "refreshes": args.refreshes, "queries_per_refresh": last.queries,
            "wall_ms_median": round(1e3 * statistics.median(walls), 1), "wall_ms_max": round(1e3 * max(walls), 1),
            "client_cpu_ms_median": round(1e3 * statistics.median(cpus), 1),
            "bytes_per_refresh_median": int(statistics.median(sizes)),
            "prometheus_cpu_ms_per_refresh": round(1e3 * prom_cpu / args.refreshes, 1),
            "prometheus_ingest_cpu_pct": round(100 * ingest_cpu_per_s, 1),
            "prometheus_rss_mb": round(_rss_mb(prom.pid), 1),
            "hosts_reporting": last.reporting, "hosts_known": last.known, "status": last.status.message,
            "hosts_with_tokens_per_j": sum(1 for h in last.hosts if h.tokens_per_j),
        }
    finally:
        if prom is not None:
            prom.terminate()
            prom.wait(timeout=30)
        gen.terminate()
        gen.wait(timeout=30)


def measure_streaming(args: argparse.Namespace) -> dict[str, Any]:
    from wattfleet.core import wire
    from wattfleet.core.model import DeviceReading, PowerReading, TelemetryBatch, TokenBatch

    rate_hz, period_ns = 20, 50_000_000
    tele: list[bytes] = []
    events: list[bytes] = []
    for i in range(args.hosts):
        power, devices = [], []
        for k in range(rate_hz):
            t = 1_000_000_000 + k * period_ns
            power.append(PowerReading("nvml", "gpu-board:0", t, 200.0 + k, 1000.0 + 10 * k))
            power.append(PowerReading("rapl", "cpu-package", t, 45.0, 300.0 + 2 * k))
            devices.append(DeviceReading("gpu:0", t, 90.0, 4e10, 65.0, 1980.0, 2619.0, 700.0))
        tele.append(wire.telemetry_batch_to_proto(TelemetryBatch(i, tuple(power), tuple(devices))).SerializeToString())
        n = args.tokens_per_s
        body = TokenBatch(tuple(j // 64 for j in range(n)), tuple(j % 64 for j in range(n)),
                          tuple(1_000_000_000 + j * (1_000_000_000 // max(1, n)) for j in range(n)))
        events.append(wire.run_event_proto(i, 2_000_000_000, body).SerializeToString())
    rounds = []
    for _ in range(args.refreshes):
        c0, w0 = time.process_time(), time.perf_counter()
        for blob in tele:
            wire.telemetry_batch_from_proto(wire.Pb.TelemetryBatch.FromString(blob))
        for blob in events:
            wire.run_event_from_proto(wire.Pb.RunEvent.FromString(blob))
        rounds.append((time.process_time() - c0, time.perf_counter() - w0))
    return {
        "hosts": args.hosts, "telemetry_rate_hz": rate_hz, "power_domains": 2, "devices": 1,
        "tokens_per_s_per_host": args.tokens_per_s, "messages_per_s": 2 * args.hosts, "streams_open": args.hosts,
        "bytes_per_s": sum(map(len, tele)) + sum(map(len, events)),
        "decode_cpu_ms_per_s_median": round(1e3 * statistics.median(c for c, _ in rounds), 1),
        "decode_wall_ms_per_s_median": round(1e3 * statistics.median(w for _, w in rounds), 1),
    }


def _markdown(result: dict[str, Any]) -> str:
    p, s = result["prometheus"], result["streaming"]
    return "\n".join([
        "# prometheus_source", "",
        f"{result['when']}, {result['machine']}; Prometheus {result['prometheus_version']}.", "",
        f"Command: `{result['command']}`", "",
        f"{p['hosts']} simulated hosts ({p['series_in_prometheus']} series, the agent's own exporter code; a host "
        "has the series of an agent whose runs have not ended yet: last_run_* series, which no refresh reads, "
        "are left out) "
        f"scraped every {p['scrape_interval_s']:g} s as one target (the generator renders a scrape in "
        f"{p['generator_scrape_s']:g} s); ranges of {p['range_s']:g} s hold about {p['samples_per_series_in_range']} "
        "samples per series, as a 5-minute range does at a 20 s scrape interval.", "",
        "| per refresh of the fleet screen | Prometheus source | streaming from every agent |",
        "|---|---|---|",
        f"| requests / messages | {p['queries_per_refresh']} PromQL queries | {s['messages_per_s']} messages "
        f"per second ({s['streams_open']} streams open) |",
        f"| bytes received | {p['bytes_per_refresh_median']:,} | {s['bytes_per_s']:,} per second |",
        f"| console CPU | {p['client_cpu_ms_median']} ms (HTTP, JSON, folding) | {s['decode_cpu_ms_per_s_median']} ms "
        "per second (protobuf parse + dataclasses only) |",
        f"| wall time | {p['wall_ms_median']} ms median, {p['wall_ms_max']} ms max | continuous |",
        f"| server side | Prometheus {p['prometheus_cpu_ms_per_refresh']} ms CPU per refresh (ingest alone: "
        f"{p['prometheus_ingest_cpu_pct']}% of a core; {p['prometheus_rss_mb']} MB resident) | every agent encodes "
        "and sends its own stream |", "",
        f"Last refresh: {p['status']}; {p['hosts_with_tokens_per_j']} hosts with tokens/J.", "",
        f"Streaming: per host and second, {s['telemetry_rate_hz']} Hz x {s['power_domains']} power domains + "
        f"{s['devices']} device in one TelemetryBatch, and {s['tokens_per_s_per_host']} tokens in one RunEvent "
        "TokenBatch; the console would pay this every second, against one refresh whenever it redraws.", "",
        "The Prometheus figures include Prometheus's query work on the same 2-core machine as the generator's "
        "rendering; the streaming figures leave out gRPC framing, TLS and the event loop.", "",
    ])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--fill-s", type=int, default=20, help="seconds of scrapes before measuring (= the range)")
    ap.add_argument("--refreshes", type=int, default=10)
    ap.add_argument("--tokens-per-s", type=int, default=200, help="tokens per host-second in the streaming side")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if args.serve:
        serve(args.hosts, args.serve, args.seed)
        return 0
    if PROMETHEUS is None:
        print("prometheus_source: needs Debian's `prometheus` (scripts/dev.sh setup installs it as root)",
              file=sys.stderr)
        return 2
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="wattfleet-bench-prom-") as tmp:
        prom = measure_prometheus(args, Path(tmp))
    stream = measure_streaming(args)
    version = subprocess.run([PROMETHEUS, "--version"], capture_output=True, text=True).stdout.split()[2]
    argv = " ".join(sys.argv[1:])
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs shared with other work (1-min load "
                   f"{load0:.2f} before, {os.getloadavg()[0]:.2f} after), Python {platform.python_version()}",
        "prometheus_version": version,
        "command": f".venv/bin/python bench/prometheus_source.py{' ' + argv if argv else ''}",
        "prometheus": prom, "streaming": stream,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "prometheus_source.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "prometheus_source.md").write_text(_markdown(result))
    print(_markdown(result))
    return 0 if math.isfinite(prom["wall_ms_median"]) else 1


if __name__ == "__main__":
    sys.exit(main())
