"""The agent's life: bind, probe, advertise, serve, and shut down cleanly.

Order matters for "nothing left half-started": the port is bound before anything is advertised, and
shutdown withdraws the zeroconf record before the server stops answering.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import grpc

from wattfleet.agent.service import auth
from wattfleet.agent.service.config import AgentConfig
from wattfleet.agent.service.info import collect_info, default_host_id, device_summary, now_unix_ns
from wattfleet.agent.service.run_rpcs import RunServices
from wattfleet.agent.service.servicer import AgentServicer
from wattfleet.core import __version__, wire
from wattfleet.core.errors import ConfigError, UsageError

log = logging.getLogger("wattfleet.agent")


@dataclass(frozen=True)
class Ready:
    port: int
    pid: int
    host_id: str
    token_file: str  # "" when insecure
    metrics_port: int = 0  # the /metrics port when serving one


def _say(message: str) -> None:
    print(f"wattfleet agent: {message}", file=sys.stderr, flush=True)


def _server_credentials(config: AgentConfig) -> grpc.ServerCredentials | None:
    if config.tls_cert is None and config.tls_key is None:
        if config.tls_client_ca is not None:
            raise UsageError("--tls-client-ca needs --tls-cert and --tls-key too")
        return None
    if config.tls_cert is None or config.tls_key is None:
        raise UsageError("TLS needs both --tls-cert and --tls-key")

    def read(path: Path, what: str) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc

    client_ca = read(config.tls_client_ca, "--tls-client-ca") if config.tls_client_ca else None
    return grpc.ssl_server_credentials(
        [(read(config.tls_key, "--tls-key"), read(config.tls_cert, "--tls-cert"))],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


def _bind(server: grpc.aio.Server, config: AgentConfig, creds: grpc.ServerCredentials | None) -> int:
    address = f"[{config.listen_host}]:{config.port}" if ":" in config.listen_host else (
        f"{config.listen_host}:{config.port}"
    )
    try:
        port = server.add_secure_port(address, creds) if creds else server.add_insecure_port(address)
    except RuntimeError as exc:
        port = 0
        detail = str(exc)
    else:
        detail = ""
    if not port:
        raise UsageError(
            f"cannot listen on {address}: the port is in use or the address is not on this host"
            f"{' (' + detail + ')' if detail else ''}; pick another with --port or --listen"
        )
    return int(port)


async def serve(config: AgentConfig, stop: asyncio.Event | None = None) -> int:
    """Run the agent until `stop` is set or SIGINT/SIGTERM arrives. Returns the exit code."""
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    host_id = config.host_id or default_host_id()
    config = replace(config, host_id=host_id)  # one resolved id for GetInfo, runs and the advertisement
    if config.insecure:
        token, token_path = "", None
        _say("WARNING: --insecure: anyone who can reach this port can run workloads on this host.")
    else:
        token, token_path, created = auth.load_or_create_token(config.data_dir, config.token_file)
        _say(f"token {'generated and stored' if created else 'read from'} {token_path} (clients need it)")
        config = replace(config, token=token)
    creds = _server_credentials(config)

    interceptors = [] if config.insecure else [auth.TokenAuthInterceptor(token)]
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.so_reuseport", 0),  # a second agent on the same port must fail, not share it
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.max_send_message_length", config.max_message_bytes),
        ],
    )
    runs = RunServices(config)
    servicer = AgentServicer(runs)
    wire.add_agent_servicer(servicer, server)
    health = wire.Health(server)
    await health.not_serving()
    wire.add_reflection(server)
    port = _bind(server, config, creds)

    advertiser = None
    ready_file = config.ready_file
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    try:
        _say(f"listening on {config.listen_host}:{port} (host id {host_id}); probing this host")
        info = await asyncio.to_thread(collect_info, config, host_id, now_unix_ns())
        await runs.start()
        servicer.info = info
        if config.advertise:
            from wattfleet.agent.service.advertise import Advertiser, build_txt

            advertiser = Advertiser(
                host_id=host_id,
                port=port,
                txt=build_txt(
                    agent_version=__version__,
                    host_id=host_id,
                    device_summary=device_summary(info),
                    auth_required=not config.insecure,
                    tls=creds is not None,
                    secrets=[token] if token else [],
                ),
                addresses=config.interfaces,
            )
            await advertiser.start()
        await health.serving()
        if ready_file is not None:
            metrics_port = runs.exporter.port if runs.exporter is not None else 0
            _write_ready(ready_file, Ready(port, os.getpid(), host_id, str(token_path or ""), metrics_port))
        works = [p.name for p in info.execution_providers if p.works]
        _say(f"SERVING on port {port}; execution providers that work here: {', '.join(works) or 'not probed'}")
        await stop.wait()
        _say("stopping: withdrawing the zeroconf record, finishing or cancelling runs")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await health.shutdown()
        if advertiser is not None:
            await advertiser.stop()
        await runs.stop()
        await server.stop(config.grace_s)
        if ready_file is not None:
            ready_file.unlink(missing_ok=True)
    _say("stopped")
    return 0


def _write_ready(path: Path, ready: Ready) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(ready.__dict__))
    tmp.replace(path)
