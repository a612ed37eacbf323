"""A fixed, synthetic fleet for the console's snapshot tests and the pictures in docs/screens/.

Every number here is made up (and the hosts say so in a `sample` label); nothing depends on a clock, a
port or a random id, so the same pictures come out every time. Pure.
"""

from __future__ import annotations

from wattfleet.core.model import (
    AgentInfo,
    Device,
    DomainEnergy,
    ExecutionProvider,
    Figure,
    HostCpu,
    PowerSource,
    ProfileInfo,
    Query,
    RunRecord,
    TaskSuccess,
    Validity,
    Window,
)
from wattfleet.tui.fleet.model import FleetModel, LiveRun

NOW_S = 1000.0
T0_NS = 10_000_000_000
PROFILES = ("decoder-offline", "decoder-server-poisson", "smoke")
DEFS = {
    "ttft": "MLPerf LoadGen: first token - scheduled arrival",
    "tpot": "MLPerf LoadGen, vLLM: (e2e - ttft) / (n_out - 1), n_out > 1",
    "itl": "vLLM: gaps between consecutive tokens, pooled",
    "e2el": "MLPerf LoadGen sample latency: last token - scheduled arrival",
}

# host, labels, device, (domain, watts), tokens/s per profile, tokens/J per profile (None: no run)
_HOSTS: tuple[tuple[str, dict[str, str], str, tuple[tuple[str, float], ...], tuple[float | None, ...],
                     tuple[float | None, ...]], ...] = (
    ("dgx-a100-01", {"site": "lab", "rack": "1"}, "NVIDIA A100-SXM4-80GB",
     (("gpu-board:0", 312.0), ("cpu-package", 95.0)), (2410.0, 1320.0, 880.0), (7.9, 4.4, 3.1)),
    ("dgx-a100-02", {"site": "lab", "rack": "1"}, "NVIDIA A100-SXM4-80GB",
     (("gpu-board:0", 298.0), ("cpu-package", 91.0)), (2380.0, 1290.0, 870.0), (8.1, 4.1, 2.9)),
    ("dgx-a100-03", {"site": "lab", "rack": "1"}, "NVIDIA A100-SXM4-80GB",
     (("gpu-board:0", 238.0), ("cpu-package", 88.0)), (1450.0, 800.0, 560.0), (6.0, 3.4, 2.3)),
    ("l40s-07", {"site": "lab", "rack": "2"}, "NVIDIA L40S",
     (("gpu-board:0", 251.0), ("cpu-package", 70.0)), (1710.0, 980.0, 640.0), (6.6, 3.8, 2.5)),
    ("edge-orin-3", {"site": "edge", "rack": "e1"}, "Jetson AGX Orin 64GB",
     (("soc-input", 38.0), ("soc-rail:VDD_GPU_SOC", 17.0)), (310.0, 150.0, 120.0), (8.4, 4.9, 3.3)),
    ("edge-orin-4", {"site": "edge", "rack": "e1"}, "Jetson AGX Orin 64GB",
     (("soc-input", 36.0),), (300.0, None, 118.0), (8.2, None, 3.2)),
    ("cpu-xeon-12", {"site": "lab", "rack": "2"}, "Intel Xeon Gold 6430",
     (("estimated", 205.0),), (95.0, 61.0, 40.0), (0.46, 0.30, 0.21)),
)
# Task success where the runs scored answers, by (host, profile).
_SUCCESS = {("dgx-a100-01", "decoder-offline"): 0.93, ("dgx-a100-02", "decoder-offline"): 0.91,
            ("dgx-a100-03", "decoder-offline"): 0.92, ("l40s-07", "decoder-offline"): 0.94,
            ("edge-orin-3", "decoder-offline"): 0.78, ("dgx-a100-01", "smoke"): 0.97, ("edge-orin-3", "smoke"): 0.81}
# What the environment says beyond the device's name, by host: the third A100 runs power-capped, in fp32.
_ENV: dict[str, dict[str, object]] = {
    "dgx-a100-03": {"precision": "fp32", "device_state": {"end": {"power_limit_w": 250.0,
                                                                  "throttle_reasons": ["sw_power_cap"]}}},
    "dgx-a100-01": {"device_state": {"end": {"power_limit_w": 400.0}}},
    "dgx-a100-02": {"device_state": {"end": {"power_limit_w": 400.0}}},
}

def _load(profile: str) -> dict[str, object]:
    if "offline" in profile:
        return {"scenario": "offline", "batch_size": 8}
    if "server" in profile:
        return {"scenario": "server", "rate_qps": 8.0}
    return {"scenario": "single-stream"}


def _figures(tok_s: float, tok_j: float, domain: str, scale: float, low_energy: bool) -> list[Figure]:
    figs: list[Figure] = []
    for metric, base in (("ttft", 38.0), ("tpot", 9.0), ("itl", 8.6), ("e2el", 320.0)):
        for i, p in enumerate(("mean", "p50", "p90", "p95", "p99", "p99.9")):
            figs.append(Figure(f"{metric}_{p}", round(base * scale * (1 + 0.35 * i), 3), "ms", "", DEFS[metric]))
    energy = tok_s * 30.0 / tok_j
    figs += [
        Figure("tokens_per_s", tok_s, "tok/s", "", "vLLM output throughput: tokens completed in window / window"),
        Figure("energy_j", round(energy, 3), "J", domain, "energy over the window", low_energy),
        Figure("power_avg_w", round(energy / 30.0, 3), "W", domain, "energy_j / window", low_energy),
        Figure("tokens_per_j", tok_j, "tok/J", domain, "output tokens / energy_j", low_energy),
        Figure("j_per_token", round(1 / tok_j, 5), "J/tok", domain, "energy_j / output tokens", low_energy),
    ]
    return figs


def sample_record(host: str, profile: str, index: int, tok_s: float, tok_j: float, domain: str, device: str,
                  *, valid: bool = True, state: str = "completed", low: bool = False, queries: bool = False,
                  success: float | None = None, slowness: float = 0.0,
                  labels: dict[str, str] | None = None, env: dict[str, object] | None = None) -> RunRecord:
    scale = 1.0 + 0.4 * index + slowness + (2.5 if domain == "estimated" else 0.0)
    figures = _figures(tok_s, tok_j, domain, scale, low)
    task = None
    if success is not None:
        task = TaskSuccess("exact-match", 200, round(200 * success), success, success - 0.05,
                           min(1.0, success + 0.04))
        figures += [Figure("j_per_correct", round(1 / tok_j * 32 / success, 4), "J", domain, "energy_j / correct"),
                    Figure("correct_per_s", round(tok_s / 32 * success, 3), "1/s", "", "correct answers / window"),
                    Figure("success_rate", success, "", "", "correct / scored items")]
    reasons = () if valid else ("early stopping: p99 ttft needs 662 queries, had 310 (MLPerf LoadGen)",)
    start = 1_764_500_000_000_000_000 + index * 60_000_000_000
    qs: list[Query] = []
    if queries:
        for q in range(120):
            sched = T0_NS + q * 250_000_000
            first = sched + int((30 + (q * 7) % 23) * 1e6)
            gaps = [int((8 + (q * 3 + k) % 5 + (k == 7) * 6) * 1e6) for k in range(15)]
            toks = tuple(first + sum(gaps[:k]) for k in range(16))
            qs.append(Query(q, sched, sched, toks[-1], toks))
    return RunRecord(
        run_id=f"{host}-run{index + 1:02d}", state=state, host_id=host, device="cpu" if domain == "estimated" else
        "gpu:0", profile={"name": profile, "load": _load(profile)},
        environment={"provider_used": "CPUExecutionProvider" if domain == "estimated" else "CUDAExecutionProvider",
                     "device": {"name": device, "id": 0}, "precision": "fp16", **(env or {})},
        window=Window(start, T0_NS, T0_NS, T0_NS + 30_000_000_000, "limits met"),
        figures=figures, queries=qs,
        validity=Validity(valid, reasons, queries=310, duration_s=30.0, min_duration_met=True, min_queries_met=valid),
        energy=[DomainEnergy(domain, "counter" if domain != "estimated" else "integral", tok_s * 30 / tok_j,
                             tok_s / tok_j, tok_s / tok_j * 1.2, 20.0, 600, low,
                             ("window of 3.0 s is shorter than 5 s",) if low else (), headline=True)],
        host_cpu=HostCpu(41.0, 12.0, False, 205.0 if domain == "estimated" else None),
        task=task, error="" if state == "completed" else "ONNX Runtime: out of memory allocating 2.1 GiB",
        labels={**(labels or {}), "sample": "synthetic"}, started_unix_ns=start, ended_unix_ns=start + 31_000_000_000,
    )


def _info(host: str, device: str, domains: tuple[tuple[str, float], ...], labels: dict[str, str]) -> AgentInfo:
    gpu = device.startswith("NVIDIA")
    devices: tuple[Device, ...] = ()
    if gpu:
        limit = 250.0 if host == "dgx-a100-03" else 400.0 if "A100" in device else 350.0
        devices = (Device("gpu", 0, device, power_limit_w=limit),)
    elif "Jetson" in device:
        devices = (Device("soc", 0, device, power_limit_w=60.0),)
    devices += (Device("cpu", 0, "x86_64 CPU" if gpu or "Xeon" in device else "ARM Cortex-A78AE"),)
    providers = (ExecutionProvider("CUDAExecutionProvider", gpu or "Jetson" in device),
                 ExecutionProvider("TensorrtExecutionProvider", gpu, "" if gpu else "libnvinfer not found"),
                 ExecutionProvider("CPUExecutionProvider", True))
    sources = tuple(PowerSource(d.split(":")[0], (d,), True) for d, _w in domains)
    return AgentInfo(host, host, "0.1.0", devices, {"onnxruntime": "1.31.1"}, providers, sources,
                     {**labels, "sample": "synthetic"}, platform="Linux-6.8-x86_64",
                     tdp_w=205.0 if any(d == "estimated" for d, _w in domains) else None)


def sample_model() -> FleetModel:
    """Seven live-looking hosts, one stale, one unreachable, one of another API, and one bad record file."""
    model = FleetModel(clock=lambda: NOW_S, stale_after_s=1e9)
    for n, (host, labels, device, domains, tok_s, tok_j) in enumerate(_HOSTS):
        key = f"mdns:{host}"
        model.upsert_host(key, host, source="mdns", target=f"10.0.{n // 3}.{10 + n}:50551", labels=labels)
        model.on_info(key, _info(host, device, domains, labels))
        model.on_profiles(key, [ProfileInfo(p, "", "decoder-small", "", "cpu") for p in PROFILES])
        for t in range(60):  # a minute of power, one point a second, a gentle wave
            model.on_power(key, [(d, round(w * (0.85 + 0.15 * ((t * 7 + n) % 11) / 10), 1)) for d, w in domains],
                           at_s=NOW_S - 60 + t)
        for i, profile in enumerate(PROFILES):
            if tok_j[i] is None or tok_s[i] is None:
                continue
            domain = domains[0][0]
            model.add_record(key, sample_record(
                host, profile, i, float(tok_s[i] or 0), float(tok_j[i] or 0), domain, device,
                valid=not (host == "l40s-07" and profile == "decoder-server-poisson"),
                low=host == "edge-orin-4" and profile == "smoke", queries=host == "dgx-a100-01" and i == 2,
                success=_SUCCESS.get((host, profile)), slowness=(0.0, 0.3, 0.4, 0.5, 1.6, 1.9, 0.2)[n],
                labels=labels, env=_ENV.get(host)))
    model.add_record("mdns:edge-orin-4", sample_record(
        "edge-orin-4", "decoder-server-poisson", 1, 0.0, 1.0, "soc-input", "Jetson AGX Orin 64GB", state="failed"))
    model.on_run_progress("mdns:l40s-07", LiveRun("l40s-07-run04", "smoke", "measuring", 0.4, 5200, 8.0))
    model.set_status("mdns:edge-orin-4", "stale", "connection lost: Socket closed; retrying in 4 s")
    model.upsert_host("inventory:rack3-gpu-5", "rack3-gpu-5", source="inventory", target="10.0.3.5:50551")
    model.set_status("inventory:rack3-gpu-5", "error", "unreachable: failed to connect to all addresses")
    model.upsert_host("mdns:old-agent", "old-agent", source="mdns", target="10.0.4.2:50551")
    model.set_status("mdns:old-agent", "unsupported", "speaks API 'wattfleet.v0'; this console speaks 'wattfleet.v1'")
    model.upsert_host("file:notes.json", "notes.json", source="records", target="records/notes.json")
    model.set_status("file:notes.json", "error", "records/notes.json: not a run record: not JSON")
    return model
