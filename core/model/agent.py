"""What an agent says about itself (GetInfo): host, devices, runtimes, providers that work, power sources."""

from __future__ import annotations

from dataclasses import dataclass, field

API_NAME = "wattfleet.v1"  # the wire API; the zeroconf TXT record and GetInfo both carry it


@dataclass(frozen=True)
class Device:
    kind: str  # "gpu", "soc" or "cpu"
    index: int
    name: str
    uuid: str = ""
    memory_bytes: int = 0
    power_limit_w: float | None = None  # None when unknown
    driver: str = ""
    details: dict[str, str] = field(default_factory=dict)

    @property
    def selector(self) -> str:
        """The RunSpec.device value that picks this device: "cpu" or "gpu:N"."""
        return "cpu" if self.kind == "cpu" else f"{self.kind}:{self.index}"


@dataclass(frozen=True)
class ExecutionProvider:
    name: str  # ONNX Runtime's name, e.g. "CUDAExecutionProvider"
    works: bool
    detail: str = ""
    provider: str = ""  # the runtime.provider value that selects it ("cpu", "cuda", ...)


@dataclass(frozen=True)
class PowerSource:
    name: str
    domains: tuple[str, ...]
    available: bool
    detail: str = ""


@dataclass(frozen=True)
class AgentInfo:
    host_id: str
    hostname: str
    agent_version: str
    devices: tuple[Device, ...] = ()
    runtimes: dict[str, str] = field(default_factory=dict)  # name -> version
    execution_providers: tuple[ExecutionProvider, ...] = ()
    power_sources: tuple[PowerSource, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    started_unix_ns: int = 0
    auth_required: bool = True
    tls: bool = False
    platform: str = ""
    python: str = ""
    api: str = API_NAME
    tdp_w: float | None = None

    @property
    def working_providers(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.execution_providers if p.works)
