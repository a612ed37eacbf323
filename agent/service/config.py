"""The agent's own configuration, built from its command line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class AgentConfig:
    listen_host: str = "0.0.0.0"
    port: int = 50551  # 0 = pick a free port
    host_id: str = ""  # "" = derived from /etc/machine-id or the hostname
    data_dir: Path = field(default_factory=lambda: Path.home() / ".local" / "share" / "wattfleet")
    # Security: a bearer token is required unless insecure is set on purpose.
    insecure: bool = False
    token: str = ""  # resolved token (from --token-file or generated)
    token_file: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None  # set = mutual TLS: clients must present a cert signed by it
    # Discovery.
    advertise: bool = True
    interfaces: tuple[str, ...] = ()  # IP addresses to advertise on; () = all
    labels: dict[str, str] = field(default_factory=dict)
    # Work.
    model_dirs: tuple[Path, ...] = ()
    profile_dirs: tuple[Path, ...] = ()
    power_sources: tuple[str, ...] = ()  # source specs for the telemetry layer; () = autodetect
    tdp_w: float | None = None  # the TDP behind the "estimated" domain; None = its default, said to be assumed
    telemetry_rate_hz: float = 20.0
    probe_providers: bool = True
    # Power-limit sweeps may set this host's GPU/CPU power limits (the original is always put back); off
    # unless the host's owner starts the agent with --allow-power-limits.
    allow_power_limits: bool = False
    # Limits.
    max_run_s: float = 3600.0
    max_watchers: int = 32
    queue_runs: bool = True  # False = a second run on a busy device gets RESOURCE_EXHAUSTED
    max_message_bytes: int = 4 * 1024 * 1024
    event_buffer: int = 4096  # run events kept per run for resuming and slow watchers
    journal_keep_runs: int = 1000  # ended runs kept in the journal; older ones are pruned at start
    metrics_port: int | None = None  # Prometheus /metrics; None = off
    grace_s: float = 5.0
    ready_file: Path | None = None  # written as JSON once SERVING (for scripts and tests)
