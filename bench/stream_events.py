"""Token events from one agent to its watchers over loopback: throughput, delay and the agent's CPU.

The agent is the real one (a separate process, real gRPC, the real run manager, bridge, ring and
journal); only the workload is synthetic, so the event path is measured rather than ONNX Runtime: the
bench starts the agent through this file with `run_profile` replaced by a generator that calls the
observer exactly as the engine does (on_phase, on_token per token, on_query per request).

Three measurements, one run each, side by side in one process tree:
1. throughput: 2,000,000 tokens emitted as fast as the generator can, one watcher; tokens/s received
   (target >= 100,000/s, batched);
2. delay: tokens paced at 20,000/s, one watcher; client arrival time - token t_ns (same host, same
   monotonic clock), p50 and p99;
3. CPU: the same paced stream with 0, 1 and 10 watchers; the agent process's CPU time over wall time
   (psutil), so the cost of watchers is the difference to 0.

    .venv/bin/python bench/stream_events.py [--tokens 2000000] [--paced-rate 20000] [--paced-s 4]

Writes bench/results/stream_events.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from wattfleet.core.localagent import wait_ready
from wattfleet.core.model import ENDED_STATES, RunSpec

RESULTS = Path(__file__).resolve().parent / "results"
TOKENS_PER_REQUEST = 64


# --- the agent side: a synthetic workload behind the real agent -------------------------------------

class _Record:
    def __init__(self, run_id: str, state: str, tokens: int, window_s: float) -> None:
        self.state, self.error, self.environment = state, "", {"workload": "synthetic event generator"}
        self.figures = [{"name": "tokens_per_s", "value": tokens / max(window_s, 1e-9), "unit": "tok/s",
                         "domain": "", "definition": "generator rate", "low_confidence": False}]
        self._d = {"run_id": run_id, "state": state, "tokens": tokens, "window_s": window_s}

    def to_json(self) -> str:
        return json.dumps(self._d)


def synthetic_run_profile(profile: Any, *, observer: Any = None, cancel: Any = None, run_id: str = "",
                          **_: Any) -> _Record:
    from wattfleet.agent.workloads.scenarios import Query

    tokens = int(profile.load.max_queries)  # the bench passes its parameters through the profile
    rate = float(profile.load.rate_qps)  # tokens per second; 0 = as fast as possible (encoded as 1e9)
    observer.on_phase("preparing", "synthetic")
    observer.on_phase("measuring", "")
    t0 = time.monotonic_ns()
    period_ns = 0 if rate >= 1e8 else int(1e9 / rate)
    emitted = 0
    request = 0
    while emitted < tokens and not cancel.is_set():
        start = time.monotonic_ns()
        for k in range(TOKENS_PER_REQUEST):
            if period_ns:
                due = t0 + (emitted + k) * period_ns
                while (now := time.monotonic_ns()) < due:
                    time.sleep(min(0.001, (due - now) / 1e9))
            observer.on_token(request, k, time.monotonic_ns())
        emitted += TOKENS_PER_REQUEST
        done = time.monotonic_ns()
        observer.on_query(Query(request, start, start, start, done, TOKENS_PER_REQUEST, False))
        request += 1
    window_s = (time.monotonic_ns() - t0) / 1e9
    return _Record(run_id, "cancelled" if cancel.is_set() else "completed", emitted, window_s)


def serve(argv: list[str]) -> int:
    import wattfleet.agent.workloads.driver as driver

    driver.run_profile = synthetic_run_profile  # type: ignore[assignment]
    from wattfleet.core.cli import main

    return main(["agent", *argv])


# --- the client side --------------------------------------------------------------------------------

def start_agent(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    ready = work / "ready.json"
    cmd = [sys.executable, __file__, "--serve", "--insecure", "--listen", "127.0.0.1", "--port", "0",
           "--no-advertise", "--no-probe", "--data-dir", str(work), "--ready-file", str(ready),
           "--power-source", "estimated:tdp_w=65"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(work / "agent.log", "wb"))
    info = wait_ready(proc, ready, timeout_s=60, log=work / "agent.log")
    return proc, f"127.0.0.1:{info['port']}"


def spec(tokens: int, rate: float) -> Any:

    return RunSpec(profile="smoke", overrides={"load.max_queries": str(tokens), "load.rate_qps": str(rate)})


async def watch(client: Any, run_id: str, delays: list[int] | None) -> tuple[int, int, int]:
    """Tokens received, first and last arrival (ns); appends arrival - t_ns per token when asked."""
    n = first = last = 0
    async for msg in client.watch_run_raw(run_id):
        if msg.WhichOneof("body") != "tokens":
            continue
        now = time.monotonic_ns()
        t_ns = msg.tokens.t_ns
        n += len(t_ns)
        first = first or now
        last = now
        if delays is not None:
            delays.extend(now - t for t in t_ns)
    return n, first, last


async def one_run(target: str, tokens: int, rate: float, watchers: int, pid: int,
                  delays: list[int] | None = None) -> dict[str, Any]:
    import psutil

    from wattfleet.core.client import AgentClient

    agent = psutil.Process(pid)
    async with AgentClient(target) as c:
        t_start_ns = time.monotonic_ns()
        handle = await c.start_run(spec(tokens, rate))
        clients = [AgentClient(target) for _ in range(watchers)]
        cpu0 = agent.cpu_times()
        t0 = time.monotonic()
        if watchers:
            results = await asyncio.gather(*(watch(cl, handle.run_id, delays if i == 0 else None)
                                             for i, cl in enumerate(clients)))
        else:

            while (await c.get_run(handle.run_id)).state not in ENDED_STATES:
                await asyncio.sleep(0.2)  # no stream open: the agent's cost without watchers
            results = []
        wall = time.monotonic() - t0
        cpu1 = agent.cpu_times()
        for cl in clients:
            await cl.close()
        run = await c.get_run(handle.run_id)
    cpu_s = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    out: dict[str, Any] = {"watchers": watchers, "tokens": tokens, "paced_rate": rate, "wall_s": wall,
                           "agent_cpu_share_of_one_core": cpu_s / wall, "state": run.state,
                           "generator_tokens_per_s": next((f.value for f in run.figures
                                                           if f.name == "tokens_per_s"), None)}
    if results:
        out["received"] = [n for n, _, _ in results]
        # End to end: from StartRun to the last token's arrival, so a client that lags cannot look fast.
        rates = [n / max((last - t_start_ns) / 1e9, 1e-9) for n, _first, last in results]
        out["received_tokens_per_s_min"] = min(rates)
    return out


def pct(values: list[int], p: float) -> float:
    s = sorted(values)
    import math

    return s[max(0, math.ceil(p / 100 * len(s)) - 1)] / 1e6


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        proc, target = start_agent(Path(tmp))
        try:
            throughput = await one_run(target, args.tokens, 1e9, 1, proc.pid)
            delays: list[int] = []
            paced_tokens = int(args.paced_rate * args.paced_s)
            paced = await one_run(target, paced_tokens, args.paced_rate, 1, proc.pid, delays)
            paced["delay_ms_p50"] = pct(delays, 50)
            paced["delay_ms_p99"] = pct(delays, 99)
            cpu = [await one_run(target, paced_tokens, args.paced_rate, w, proc.pid) for w in (0, 1, 10)]
        finally:
            proc.terminate()
            proc.wait(30)
    return {"throughput": throughput, "paced": paced, "cpu": cpu}


def main() -> int:
    if "--serve" in sys.argv:
        argv = [a for a in sys.argv[1:] if a != "--serve"]
        return serve(argv)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokens", type=int, default=2_000_000)
    p.add_argument("--paced-rate", type=float, default=20_000.0)
    p.add_argument("--paced-s", type=float, default=4.0)
    args = p.parse_args()
    result = asyncio.run(bench(args))
    result["host"] = {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()}
    result["command"] = "python bench/stream_events.py " + " ".join(sys.argv[1:])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "stream_events.json").write_text(json.dumps(result, indent=2) + "\n")
    t, pc = result["throughput"], result["paced"]
    lines = [
        "# Token events, agent to client over loopback",
        "",
        f"Host: {result['host']['platform']}, {result['host']['cpus']} CPUs (shared with other work); "
        "agent and clients on the same host. Synthetic generator behind the real agent (see the script).",
        "",
        "| measurement | value | target |",
        "|---|---|---|",
        f"| tokens/s received end to end (StartRun to last arrival), 1 watcher, generator flat out | "
        f"{t['received_tokens_per_s_min']:,.0f} (generator alone {t['generator_tokens_per_s']:,.0f}) | >= 100,000 |",
        f"| delay token t_ns -> client, p50 at {args.paced_rate:,.0f} tok/s | {pc['delay_ms_p50']:.2f} ms | |",
        f"| delay token t_ns -> client, p99 at {args.paced_rate:,.0f} tok/s | {pc['delay_ms_p99']:.2f} ms | |",
    ]
    for row in result["cpu"]:
        lines.append(f"| agent CPU (share of one core), {row['watchers']} watchers at {args.paced_rate:,.0f} tok/s "
                     f"| {row['agent_cpu_share_of_one_core']:.3f} | |")
    lines += ["", "Batching (agent/service/bridge.py): a token event closes at 4096 tokens or when its first token is "
              "10 ms old; a stream that went quiet is flushed by a 20 ms ticker. Shorter ages lower the delay and "
              "raise the per-watcher CPU (5 ms measured: p50 3.5 ms, 10 watchers +0.26 core)."]
    lines += ["", "The CPU rows include the synthetic generator itself (it runs in the agent); the cost of "
              "watchers is the difference to the 0-watcher row.", "", f"Command: `{result['command']}`", ""]
    (RESULTS / "stream_events.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
