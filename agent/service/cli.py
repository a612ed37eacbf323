"""`wattfleet agent`: run the on-host agent."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from wattfleet.agent.service.config import AgentConfig
from wattfleet.core.cli import ArgumentParser
from wattfleet.core.errors import UsageError

DEFAULT_PORT = 50551


def _label(value: str) -> tuple[str, str]:
    key, sep, val = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {value!r}")
    return key, val


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="wattfleet agent",
        description=(
            "Run the wattfleet agent: a gRPC server that runs ONNX Runtime and TensorRT workloads on this "
            "host, streams per-token latency and power telemetry, journals its runs and advertises itself "
            "over zeroconf (_wattfleet._tcp). Clients need the bearer token the agent prints at start."
        ),
    )
    net = p.add_argument_group("network")
    net.add_argument("--listen", default="0.0.0.0", metavar="ADDR", help="address to listen on")
    net.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port; 0 picks a free one")
    net.add_argument("--interface", action="append", default=[], metavar="IP",
                     help="advertise over zeroconf on this interface address (repeatable; default: all)")
    net.add_argument("--no-advertise", action="store_true", help="do not advertise over zeroconf")
    sec = p.add_argument_group("security")
    sec.add_argument("--token-file", type=Path, metavar="FILE",
                     help="bearer token clients must send (default: generated once into DATA_DIR/token, 0600)")
    sec.add_argument("--insecure", action="store_true",
                     help="accept calls without a token (anyone who can reach the port can run workloads)")
    sec.add_argument("--tls-cert", type=Path, metavar="FILE", help="server certificate (PEM) for TLS")
    sec.add_argument("--tls-key", type=Path, metavar="FILE", help="server private key (PEM) for TLS")
    sec.add_argument("--tls-client-ca", type=Path, metavar="FILE",
                     help="CA (PEM) that client certificates must chain to: turns on mutual TLS")
    host = p.add_argument_group("host")
    host.add_argument("--host-id", default="", help="stable id of this host (default: hostname + machine id)")
    host.add_argument("--data-dir", type=Path, default=AgentConfig().data_dir,
                      help="token, journal and engine caches live here")
    host.add_argument("--label", action="append", type=_label, default=[], metavar="KEY=VALUE",
                      help="label reported in GetInfo and carried into run records (repeatable)")
    host.add_argument("--model-dir", action="append", type=Path, default=[], metavar="DIR",
                      help="folder whose models clients may run (repeatable); built-in models are always allowed")
    host.add_argument("--profile-dir", action="append", type=Path, default=[], metavar="DIR",
                      help="extra folder of workload profiles (*.toml) to offer (repeatable)")
    host.add_argument("--power-source", action="append", default=[], metavar="SPEC",
                      help="power source spec, e.g. nvml, rapl, replay:trace.csv (repeatable; default: autodetect)")
    host.add_argument("--tdp-w", type=float, metavar="W",
                      help="TDP behind the 'estimated' domain (CPU utilisation x TDP) where no CPU power is measured; "
                           "recorded with every figure it makes")
    host.add_argument("--telemetry-rate-hz", type=float, default=20.0, help="power sampling rate")
    host.add_argument("--allow-power-limits", action="store_true",
                      help="let power-limit sweeps (load.sweep.over = \"power_limit\") set this host's GPU (NVML) or "
                           "CPU (RAPL, under the rapl power source's root) power limit; the original is journaled "
                           "first and always put back, also at the next start after a crash. Off: such runs are "
                           "refused. Needs authenticated callers (not with --insecure)")
    host.add_argument("--no-probe", action="store_true",
                      help="skip probing execution providers at start (faster start; GetInfo lists none)")
    lim = p.add_argument_group("limits")
    lim.add_argument("--max-run-s", type=float, default=3600.0, help="longest run allowed")
    lim.add_argument("--max-watchers", type=int, default=32, help="most concurrent WatchRun/StreamTelemetry")
    lim.add_argument("--refuse-when-busy", action="store_true",
                     help="refuse a run on a busy device with RESOURCE_EXHAUSTED instead of queueing it")
    lim.add_argument("--max-message-bytes", type=int, default=4 * 1024 * 1024, metavar="N",
                     help="largest gRPC message received or sent (run records of any size come in chunks)")
    lim.add_argument("--event-buffer", type=int, default=4096, metavar="N",
                     help="run events kept per run for watchers that resume or fall behind")
    lim.add_argument("--metrics-port", type=int, metavar="PORT", help="serve Prometheus /metrics on this port")
    lim.add_argument("--grace-s", type=float, default=5.0, help="shutdown grace period")
    p.add_argument("--ready-file", type=Path, metavar="FILE",
                   help="write {port, pid, host_id, token_file} as JSON here once serving (for scripts)")
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"],
                   help="how much the agent logs on stderr")
    return p


def config_from_args(args: argparse.Namespace) -> AgentConfig:
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: expected 0..65535")
    if args.insecure and args.token_file:
        raise UsageError("--insecure and --token-file contradict each other; pick one")
    if args.insecure and args.allow_power_limits:
        raise UsageError("--allow-power-limits lets callers change this host's power limits, so it needs "
                         "authenticated callers: drop --insecure (or --allow-power-limits)")
    if args.max_message_bytes < 64 * 1024:
        raise UsageError(f"--max-message-bytes {args.max_message_bytes}: expected at least 65536")
    if args.event_buffer < 8:
        raise UsageError(f"--event-buffer {args.event_buffer}: expected at least 8")
    if args.telemetry_rate_hz <= 0:
        raise UsageError(f"--telemetry-rate-hz {args.telemetry_rate_hz}: expected a number > 0")
    if args.tdp_w is not None and not 0 < args.tdp_w <= 10_000:
        raise UsageError(f"--tdp-w {args.tdp_w:g}: expected watts in (0, 10000]")
    return AgentConfig(
        listen_host=args.listen,
        port=args.port,
        host_id=args.host_id,
        data_dir=args.data_dir.expanduser(),
        insecure=args.insecure,
        token_file=args.token_file,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_client_ca=args.tls_client_ca,
        advertise=not args.no_advertise,
        interfaces=tuple(args.interface),
        labels=dict(args.label),
        model_dirs=tuple(d.expanduser().resolve() for d in args.model_dir),
        profile_dirs=tuple(d.expanduser().resolve() for d in args.profile_dir),
        power_sources=tuple(args.power_source),
        tdp_w=args.tdp_w,
        telemetry_rate_hz=args.telemetry_rate_hz,
        probe_providers=not args.no_probe,
        allow_power_limits=args.allow_power_limits,
        max_run_s=args.max_run_s,
        max_watchers=args.max_watchers,
        queue_runs=not args.refuse_when_busy,
        metrics_port=args.metrics_port,
        event_buffer=args.event_buffer,
        max_message_bytes=args.max_message_bytes,
        grace_s=args.grace_s,
        ready_file=args.ready_file,
    )


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config = config_from_args(args)
    from wattfleet.agent.service.server import serve  # grpc and friends load only when serving

    return asyncio.run(serve(config))
