"""Prometheus `/metrics` for one agent, labelled so a fleet's Prometheus can aggregate many hosts.

Every series carries `host_id`. `wattfleet_agent_info` carries the agent's labels too, so a query can
join them on: `wattfleet_power_watts * on(host_id) group_left(site) wattfleet_agent_info`.

The run manager and the telemetry pump write into `MetricsState` (cheap, thread-safe); the collector
reads a consistent copy at scrape time, in the HTTP server's thread. Nothing here touches the loop.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from wattfleet.core.errors import UsageError

RUN_STATES = ("idle", "queued", "preparing", "warmup", "measuring")
ENDED_STATES = ("completed", "failed", "cancelled", "interrupted")
# Figures of the last run exported as latency percentiles: "<metric>_p<q>" in ms -> seconds.
_PERCENTILE = re.compile(r"^(ttft|ttft_send|tpot|ntpot|itl|e2el)_p(\d+(?:\.\d+)?)$")
_LABEL_NAME = re.compile(r"[^a-zA-Z0-9_]")


@dataclass
class _LastRun:
    run_id: str = ""
    profile: str = ""
    state: str = ""
    ended_unix_s: float = 0.0
    figures: list[dict[str, Any]] = field(default_factory=list)


class MetricsState:
    """What /metrics shows; every method is safe to call from any thread."""

    def __init__(self, host_id: str, version: str, labels: Mapping[str, str]) -> None:
        self.host_id = host_id
        self.version = version
        self.labels = dict(labels)
        self._lock = threading.Lock()
        self._power: dict[tuple[str, str], float] = {}
        self._energy: dict[tuple[str, str], float] = {}
        self._state = "idle"
        self._active_run = ""
        self._queued = 0
        self._ended: dict[str, int] = dict.fromkeys(ENDED_STATES, 0)
        self._last = _LastRun()
        self._tokens = 0
        self._queries = 0

    def set_power(self, source: str, domain: str, power_w: float | None, energy_j_total: float | None) -> None:
        with self._lock:
            if power_w is not None:
                self._power[(source, domain)] = power_w
            if energy_j_total is not None:
                self._energy[(source, domain)] = energy_j_total

    def tokens_produced(self, n: int) -> None:
        """Output tokens as they are produced (measured and warm-up alike are the host's work)."""
        with self._lock:
            self._tokens += n

    def queries_completed(self, n: int) -> None:
        with self._lock:
            self._queries += n

    def set_run_state(self, state: str, run_id: str = "", queued: int = 0) -> None:
        with self._lock:
            self._state = state if state in RUN_STATES else "idle"
            self._active_run = run_id
            self._queued = queued

    def run_ended(
        self, run_id: str, profile: str, state: str, ended_unix_s: float, figures: Sequence[dict[str, Any]]
    ) -> None:
        with self._lock:
            self._ended[state] = self._ended.get(state, 0) + 1
            self._last = _LastRun(run_id, profile, state, ended_unix_s, [_as_dict(f) for f in figures])

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "power": dict(self._power),
                "energy": dict(self._energy),
                "state": self._state,
                "active_run": self._active_run,
                "queued": self._queued,
                "ended": dict(self._ended),
                "last": _LastRun(
                    self._last.run_id,
                    self._last.profile,
                    self._last.state,
                    self._last.ended_unix_s,
                    list(self._last.figures),
                ),
            }


class AgentCollector(Collector):
    """Turns a MetricsState snapshot into metric families at scrape time."""

    def __init__(self, state: MetricsState) -> None:
        self.state = state

    def collect(self) -> Iterator[Any]:
        s = self.state
        snap = s.snapshot()
        host = s.host_id
        extra = {_LABEL_NAME.sub("_", k): v for k, v in s.labels.items() if k not in ("host_id", "version")}
        info = GaugeMetricFamily(
            "wattfleet_agent_info", "Agent identity; join its labels on host_id", labels=["host_id", "version", *extra]
        )
        info.add_metric([host, s.version, *extra.values()], 1.0)
        yield info

        power = GaugeMetricFamily(
            "wattfleet_power_watts",
            "Latest power reading per source and energy domain (METRICS.md domains), watts",
            labels=["host_id", "source", "domain"],
        )
        for (source, domain), value in sorted(snap["power"].items()):
            power.add_metric([host, source, domain], value)
        yield power
        energy = CounterMetricFamily(
            "wattfleet_energy_joules",
            "Energy per source and domain since the agent started: the hardware counter where there is "
            "one, else the trapezoidal integral of sampled power, joules",
            labels=["host_id", "source", "domain"],
        )
        for (source, domain), value in sorted(snap["energy"].items()):
            energy.add_metric([host, source, domain], value)
        yield energy

        state = GaugeMetricFamily(
            "wattfleet_run_state", "1 for the agent's current run state", labels=["host_id", "state"]
        )
        for name in RUN_STATES:
            state.add_metric([host, name], 1.0 if snap["state"] == name else 0.0)
        yield state
        queued = GaugeMetricFamily("wattfleet_runs_queued", "Runs waiting for a device", labels=["host_id"])
        queued.add_metric([host], float(snap["queued"]))
        yield queued
        ended = CounterMetricFamily(
            "wattfleet_runs_ended", "Runs that ended, by final state", labels=["host_id", "state"]
        )
        for name, count in sorted(snap["ended"].items()):
            ended.add_metric([host, name], float(count))
        yield ended
        yield from _last_run_families(host, snap["last"])


def _last_run_families(host: str, last: _LastRun) -> Iterator[Any]:
    base = ["host_id", "profile", "run_id"]
    ids = [host, last.profile, last.run_id]
    tpj = GaugeMetricFamily(
        "wattfleet_last_run_tokens_per_joule",
        "Output tokens per joule of the last ended run, per energy domain",
        labels=[*base, "domain"],
    )
    latency = GaugeMetricFamily(
        "wattfleet_last_run_latency_seconds",
        "Latency percentiles of the last ended run (nearest rank; METRICS.md names and definitions)",
        labels=[*base, "metric", "quantile", "definition"],
    )
    throughput = GaugeMetricFamily(
        "wattfleet_last_run_throughput",
        "Throughput figures of the last ended run (tokens_per_s, samples_per_s, goodput)",
        labels=[*base, "figure", "unit"],
    )
    jpt = GaugeMetricFamily(
        "wattfleet_last_run_joules_per_token",
        "Joules per output token of the last ended run, per energy domain",
        labels=[*base, "domain"],
    )
    for f in last.figures:
        name, value = str(f.get("name", "")), f.get("value")
        if not isinstance(value, (int, float)):
            continue
        m = _PERCENTILE.match(name)
        if name == "tokens_per_j":
            tpj.add_metric([*ids, str(f.get("domain", ""))], float(value))
        elif name == "j_per_token":
            jpt.add_metric([*ids, str(f.get("domain", ""))], float(value))
        elif m and f.get("unit", "ms") == "ms":
            q = float(m.group(2)) / 100.0
            latency.add_metric([*ids, m.group(1), f"{q:g}", str(f.get("definition", ""))], float(value) / 1e3)
        elif name in ("tokens_per_s", "samples_per_s", "goodput"):
            throughput.add_metric([*ids, name, str(f.get("unit", ""))], float(value))
    ended = GaugeMetricFamily(
        "wattfleet_last_run_end_timestamp_seconds", "Wall-clock end of the last ended run", labels=[*base, "state"]
    )
    if last.run_id:
        ended.add_metric([*ids, last.state], last.ended_unix_s)
    yield from (tpj, jpt, latency, throughput, ended)


class Exporter:
    """The /metrics HTTP endpoint on its own thread."""

    def __init__(self, state: MetricsState, port: int, addr: str = "0.0.0.0") -> None:
        self.state = state
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(AgentCollector(state))
        self._requested = (addr, port)
        self._httpd: Any = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def start(self) -> int:
        addr, port = self._requested
        try:
            self._httpd, self._thread = start_http_server(port, addr=addr, registry=self.registry)
        except OSError as exc:
            raise UsageError(
                f"cannot serve Prometheus metrics on {addr}:{port}: {exc.strerror or exc}; pick another --metrics-port"
            ) from exc
        self.port = int(self._httpd.server_port)
        return self.port

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def _as_dict(f: Any) -> dict[str, Any]:
    return f.to_dict() if hasattr(f, "to_dict") else dict(f)  # type: ignore[no-any-return]
