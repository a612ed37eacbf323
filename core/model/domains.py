"""Energy domains (METRICS.md): names like "gpu-board:1" and the closed set of kinds they belong to."""

from __future__ import annotations

from collections.abc import Iterable

# Every kind a domain string can start with; "" stands for a kind this version does not know.
DOMAIN_KINDS: tuple[str, ...] = (
    "gpu-board",
    "gpu-module",
    "soc-rail",
    "soc-input",
    "cpu-package",
    "cpu-dram",
    "wall",
    "hwmon",
    "estimated",
)


def domain_kind(domain: str) -> str:
    """The METRICS.md kind of a domain: "gpu-board:1" -> "gpu-board", "soc-rail:VDD_GPU" -> "soc-rail"."""
    return domain.split(":", 1)[0]


def is_estimate(domain: str) -> bool:
    """A modelled domain (CPU utilisation x TDP), never to be presented as a measurement."""
    return domain_kind(domain) == "estimated"


def headline_domain(device: str, domains: Iterable[str]) -> str:
    """The domain that belongs to the device a run ran on (METRICS.md), or "" when none was measured.

    gpu:N -> gpu-board:N, else gpu-module:N (Grace), else soc-input (a Jetson, where NVML has no power);
    cpu -> cpu-package, else soc-input, else estimated. Never chosen by sort order.
    """
    present = set(domains)
    if device.startswith("gpu:"):
        index = device.split(":", 1)[1]
        order = [f"gpu-board:{index}", f"gpu-module:{index}", "soc-input"]
    else:
        order = ["cpu-package", "soc-input", "estimated"]
    return next((d for d in order if d in present), "")
