"""What GetInfo reports: host identity, devices, runtimes, working execution providers, power sources.

Gathered once at start (the provider probe creates and runs real sessions, which takes a moment), off
the event loop.
"""

from __future__ import annotations

import platform
import re
import socket
import time
from importlib import metadata
from pathlib import Path

from wattfleet.agent.service.config import AgentConfig
from wattfleet.agent.telemetry.cpu import estimate_tdp_w
from wattfleet.core import __version__
from wattfleet.core.model import AgentInfo, Device, ExecutionProvider, PowerSource

_RUNTIME_PACKAGES = ("onnxruntime-gpu", "onnxruntime", "onnx", "tensorrt", "nvidia-ml-py", "grpcio", "numpy")


def default_host_id() -> str:
    """hostname plus the first 8 hex digits of /etc/machine-id, so clones with one hostname differ."""
    host = socket.gethostname().split(".")[0] or "host"
    try:
        machine = Path("/etc/machine-id").read_text().strip()[:8]
    except OSError:
        machine = ""
    return sanitize_host_id(f"{host}-{machine}" if machine else host)


def sanitize_host_id(value: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9-]+", "-", value).strip("-").lower()
    return cleaned[:63] or "host"


def runtime_versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for name in _RUNTIME_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    found["python"] = platform.python_version()
    return found


# ONNX Runtime's provider names -> the runtime.provider value that selects them.
PROVIDER_OF = {"CPUExecutionProvider": "cpu", "CUDAExecutionProvider": "cuda", "TensorrtExecutionProvider": "tensorrt"}


def collect_info(config: AgentConfig, host_id: str, started_unix_ns: int) -> AgentInfo:
    """Probe this host. Blocking: call it from a worker thread."""
    from wattfleet.agent.telemetry import build_sources, list_devices

    devices = tuple(
        Device(
            kind=d.kind,
            index=d.index,
            name=d.name,
            uuid=d.uuid,
            memory_bytes=d.memory_bytes,
            power_limit_w=d.power_limit_w or None,
            driver=d.driver,
        )
        for d in list_devices()
    )
    _sources, statuses = build_sources(config.power_sources, tdp_w=config.tdp_w)
    for source in _sources:
        close = getattr(source, "close", None)
        if close is not None:
            close()
    power = tuple(
        PowerSource(name=s.name, domains=tuple(s.domains), available=s.available, detail=s.detail)
        for s in statuses
    )
    providers: tuple[ExecutionProvider, ...] = ()
    if config.probe_providers:
        from wattfleet.agent.workloads.providers import probe_providers

        providers = tuple(ExecutionProvider(p.name, p.works, p.detail, PROVIDER_OF.get(p.name, ""))
                          for p in probe_providers())
    return AgentInfo(
        host_id=host_id,
        hostname=socket.gethostname(),
        agent_version=__version__,
        devices=devices,
        runtimes=runtime_versions(),
        execution_providers=providers,
        power_sources=power,
        labels=dict(config.labels),
        started_unix_ns=started_unix_ns,
        auth_required=not config.insecure,
        tls=config.tls_cert is not None,
        platform=platform.platform(),
        python=platform.python_version(),
        tdp_w=estimate_tdp_w(_sources),
    )


def device_summary(info: AgentInfo) -> str:
    """A short TXT-record friendly summary such as "1xH100,1xCPU"."""
    counts: dict[str, int] = {}
    for device in info.devices:
        label = device.name if device.kind != "cpu" else "CPU"
        short = re.sub(r"^(NVIDIA|AMD|Intel\(R\)) ", "", label).split(" @")[0][:24]
        counts[short] = counts.get(short, 0) + 1
    return ",".join(f"{n}x{name}" for name, n in counts.items())[:200] or "none"


def now_unix_ns() -> int:
    return time.time_ns()
