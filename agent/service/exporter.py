"""Prometheus `/metrics` for one agent, labelled so a fleet's Prometheus can aggregate many hosts.

Every series carries `host_id`. `wattfleet_agent_info` carries the agent's labels too, so a query can
join them on: `wattfleet_power_watts * on(host_id) group_left(site) wattfleet_agent_info`.

Counters add up over any range: tokens/J of a host (or, summed, of a fleet) from t1 to t2 is
`increase(wattfleet_output_tokens_total[R]) / increase(wattfleet_energy_joules_total{domain_kind=K}[R])`,
because tokens are counted as the run manager hands them over, not when a run ends. Nothing here is
labelled by run id except `wattfleet_last_run_info`, which carries at most one run, so the number of
series stays fixed however many runs the agent does. `promtool check metrics` passes on the output.

The run manager and the telemetry pump write into `MetricsState` (cheap, thread-safe); the collector
reads a consistent copy at scrape time, in the HTTP server's thread. Nothing here touches the loop.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from wattfleet.agent.telemetry import domain_kind
from wattfleet.core.errors import UsageError
from wattfleet.core.model import Figure

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
    figures: list[Figure] = field(default_factory=list)


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
        self._tokens = 0
        self._queries = 0
        self._ended: dict[str, int] = dict.fromkeys(ENDED_STATES, 0)
        self._last = _LastRun()

    def set_power(self, source: str, domain: str, power_w: float | None, energy_j_total: float | None) -> None:
        with self._lock:
            if power_w is not None:
                self._power[(source, domain)] = power_w
            if energy_j_total is not None:
                self._energy[(source, domain)] = energy_j_total

    def set_run_state(self, state: str, run_id: str = "", queued: int = 0) -> None:
        with self._lock:
            self._state = state if state in RUN_STATES else "idle"
            self._active_run = run_id
            self._queued = queued

    def count_output(self, *, tokens: int = 0, queries: int = 0) -> None:
        """Add output tokens and completed queries as a run produces them (warm-up included)."""
        with self._lock:
            self._tokens += max(0, tokens)
            self._queries += max(0, queries)

    def run_ended(
        self, run_id: str, profile: str, state: str, ended_unix_s: float, figures: Sequence[Figure]
    ) -> None:
        with self._lock:
            self._ended[state] = self._ended.get(state, 0) + 1
            self._last = _LastRun(run_id, profile, state, ended_unix_s, list(figures))

    def runs_recovered_as_interrupted(self, count: int) -> None:
        """Count runs that crash recovery marked interrupted when the agent started (they ended in a
        process that is gone, so nothing else counted them)."""
        with self._lock:
            self._ended["interrupted"] += max(0, count)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "power": dict(self._power),
                "energy": dict(self._energy),
                "state": self._state,
                "active_run": self._active_run,
                "queued": self._queued,
                "tokens": self._tokens,
                "queries": self._queries,
                "ended": dict(self._ended),
                "last": replace(self._last, figures=list(self._last.figures)),
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
        yield from _power_families(host, snap)
        yield from _output_families(host, snap)

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
            "wattfleet_runs_ended",
            "Runs that ended, by final state; interrupted includes runs that crash recovery found cut short",
            labels=["host_id", "state"],
        )
        for name, count in sorted(snap["ended"].items()):
            ended.add_metric([host, name], float(count))
        yield ended
        yield from _last_run_families(host, snap["last"])


def _power_families(host: str, snap: dict[str, Any]) -> Iterator[Any]:
    labels = ["host_id", "source", "domain", "domain_kind"]
    power = GaugeMetricFamily(
        "wattfleet_power_watts",
        "Latest power reading per source and energy domain, watts; domain is indexed (gpu-board:0), "
        "domain_kind is its METRICS.md kind (gpu-board) for sums across devices",
        labels=labels,
    )
    for (source, domain), value in sorted(snap["power"].items()):
        power.add_metric([host, source, domain, domain_kind(domain)], value)
    yield power
    energy = CounterMetricFamily(
        "wattfleet_energy_joules",
        "Energy per source and domain, joules: the hardware counter where there is one, else the "
        "trapezoidal integral of sampled power since the agent started",
        labels=labels,
    )
    for (source, domain), value in sorted(snap["energy"].items()):
        energy.add_metric([host, source, domain, domain_kind(domain)], value)
    yield energy


def _output_families(host: str, snap: dict[str, Any]) -> Iterator[Any]:
    tokens = CounterMetricFamily(
        "wattfleet_output_tokens",
        "Output tokens generated by runs on this agent, warm-up included, counted as they are produced; "
        "tokens/J over a range: increase(wattfleet_output_tokens_total[R]) / "
        "increase(wattfleet_energy_joules_total{domain_kind=...}[R])",
        labels=["host_id"],
    )
    tokens.add_metric([host], float(snap["tokens"]))
    yield tokens
    queries = CounterMetricFamily(
        "wattfleet_queries",
        "Queries completed by runs on this agent, warm-up included, counted as each one completes",
        labels=["host_id"],
    )
    queries.add_metric([host], float(snap["queries"]))
    yield queries


def _last_run_families(host: str, last: _LastRun) -> Iterator[Any]:
    """The last ended run's figures. Labels carry no run id (it is in wattfleet_last_run_info), so
    each run replaces the values instead of adding series."""
    run_info = GaugeMetricFamily(
        "wattfleet_last_run_info",
        "The run the wattfleet_last_run_* series describe (at most one); join on host_id for its run_id",
        labels=["host_id", "run_id", "profile", "state"],
    )
    base = ["host_id", "profile"]
    ids = [host, last.profile]
    tpj = GaugeMetricFamily(
        "wattfleet_last_run_tokens_per_joule",
        "Output tokens per joule of the last ended run's measured window, per energy domain",
        labels=[*base, "domain", "domain_kind"],
    )
    jpt = GaugeMetricFamily(
        "wattfleet_last_run_joules_per_token",
        "Joules per output token of the last ended run's measured window, per energy domain",
        labels=[*base, "domain", "domain_kind"],
    )
    latency = GaugeMetricFamily(
        "wattfleet_last_run_latency_seconds",
        "Latency percentiles of the last ended run, seconds (METRICS.md names; percentile 0-100 by "
        "MLPerf LoadGen's index sorted[floor(p/100*n)]). A gauge, not a summary: the values are one "
        "finished run's, not a sliding window of observations, so the label is percentile, not quantile",
        labels=[*base, "metric", "percentile", "definition"],
    )
    success = GaugeMetricFamily(
        "wattfleet_last_run_success_ratio",
        "Task success of the last ended run: correct / scored answers over its measured queries (profile [task]; "
        "absent without a scorer)",
        labels=base,
    )
    jpc = GaugeMetricFamily(
        "wattfleet_last_run_joules_per_correct",
        "Joules per correct answer of the last ended run's measured window, per energy domain (absent when "
        "no answer was correct)",
        labels=[*base, "domain", "domain_kind"],
    )
    throughput = GaugeMetricFamily(
        "wattfleet_last_run_throughput",
        "Throughput figures of the last ended run (tokens_per_s, samples_per_s, goodput), unit as labelled",
        labels=[*base, "figure", "unit"],
    )
    for f in last.figures:
        name, value, domain = f.name, f.value, f.domain
        if value is None:
            continue
        m = _PERCENTILE.match(name)
        if name == "tokens_per_j":
            tpj.add_metric([*ids, domain, domain_kind(domain)], float(value))
        elif name == "j_per_token":
            jpt.add_metric([*ids, domain, domain_kind(domain)], float(value))
        elif name == "success_rate":
            success.add_metric(ids, float(value))
        elif name == "j_per_correct":
            jpc.add_metric([*ids, domain, domain_kind(domain)], float(value))
        elif m and f.unit == "ms":
            latency.add_metric([*ids, m.group(1), m.group(2), f.definition], float(value) / 1e3)
        elif name in ("tokens_per_s", "samples_per_s", "goodput"):
            throughput.add_metric([*ids, name, f.unit], float(value))
    ended = GaugeMetricFamily(
        "wattfleet_last_run_end_timestamp_seconds", "Wall-clock end of the last ended run", labels=["host_id"]
    )
    if last.run_id:
        run_info.add_metric([host, last.run_id, last.profile, last.state], 1.0)
        ended.add_metric([host], last.ended_unix_s)
    yield from (run_info, tpj, jpt, success, jpc, latency, throughput, ended)


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

