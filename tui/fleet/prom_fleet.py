"""The console's Prometheus source: the fleet screen and heatmap from five PromQL queries per refresh.

However many hosts there are, one refresh is the same five queries (hosts reporting, agent labels, live
power by domain kind, tokens/J by domain kind over a range, run states), run side by side, each with a
timeout. Refresh never raises for Prometheus trouble: the snapshot carries a `SourceStatus` (a level and
one line for the status strip) and, when the server cannot be reached, the last good hosts marked stale.

Interface for the console (blocking; call it from a worker, e.g. `await asyncio.to_thread(src.refresh)`):

    src = PrometheusFleetSource("http://prometheus:9090", selector='job="wattfleet"', range_s=300)
    snap = src.refresh()          # FleetSnapshot: hosts (HostView), status, reporting/known counts
    snap.status.message           # "12 of 12 hosts reporting", or what went wrong, in one line

Domain kinds are added only where adding is meaningful (ADDABLE_KINDS): a host's GPU boards add up, and
its CPU packages; Jetson rails (soc-rail) and hwmon sensors may overlap, so they are never summed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from wattfleet.tui.fleet.promql import PromClient, PromError, Sample, promql_duration

ADDABLE_KINDS = ("gpu-board", "gpu-module", "soc-input", "cpu-package", "cpu-dram", "wall", "estimated")
# METRICS.md's headline order where the device a run used is not known (counters carry no run).
HEADLINE_KINDS = ("gpu-board", "gpu-module", "soc-input", "cpu-package", "estimated")
DEFAULT_SELECTOR = 'job="wattfleet"'
INFO_LABELS_DROPPED = frozenset({"__name__", "job", "instance", "host_id"})

Level = Literal["ok", "warn", "error"]


@dataclass(frozen=True)
class SourceStatus:
    """What the status strip shows about the source: a level and one line."""

    level: Level
    message: str

    @property
    def ok(self) -> bool:
        return self.level == "ok"


@dataclass(frozen=True)
class HostView:
    """One host as Prometheus sees it."""

    host_id: str
    reporting: bool  # its target answered the last scrape (or, without per-host targets, its series are fresh)
    labels: Mapping[str, str] = field(default_factory=dict)  # version, device_model, site, rack, agent labels
    power_w: Mapping[str, float] = field(default_factory=dict)  # domain kind -> watts now
    tokens_per_j: Mapping[str, float] = field(default_factory=dict)  # domain kind -> over the source's range
    run_state: str = ""  # idle, queued, preparing, warmup, measuring; "" when unknown

    @property
    def headline_kind(self) -> str:
        """The kind the heatmap shows: the first of HEADLINE_KINDS this host measures ("" when none)."""
        return next((k for k in HEADLINE_KINDS if k in self.tokens_per_j or k in self.power_w), "")


@dataclass(frozen=True)
class FleetSnapshot:
    at_unix_s: float
    range_s: float
    hosts: tuple[HostView, ...]
    status: SourceStatus
    queries: int  # PromQL requests this refresh made
    bytes_received: int
    elapsed_s: float
    stale: bool = False  # the hosts are the last good refresh's, the server could not be asked now

    @property
    def reporting(self) -> int:
        return sum(1 for h in self.hosts if h.reporting)

    @property
    def known(self) -> int:
        return len(self.hosts)

    def power_by_kind(self) -> dict[str, float]:
        """Fleet power now per domain kind (reporting hosts)."""
        out: dict[str, float] = {}
        for h in self.hosts:
            for kind, watts in h.power_w.items():
                out[kind] = out.get(kind, 0.0) + watts
        return out

    def power_by_group(self, label: str) -> dict[tuple[str, str], float]:
        """(group value, domain kind) -> watts now, grouping hosts by one label (site, rack, device_model)."""
        out: dict[tuple[str, str], float] = {}
        for h in self.hosts:
            group = h.labels.get(label, "")
            for kind, watts in h.power_w.items():
                out[(group, kind)] = out.get((group, kind), 0.0) + watts
        return out


def selector(base: str, *more: str) -> str:
    """`{base,more...}` for a metric selector ("" when there is nothing to match on)."""
    parts = [p for p in (base.strip().strip("{}"), *more) if p]
    return "{" + ",".join(parts) + "}" if parts else ""


def fleet_queries(base_selector: str = DEFAULT_SELECTOR, range_s: float = 300.0) -> dict[str, str]:
    """The five PromQL queries of one refresh, by name (docs/FLEET.md lists them; the dashboard uses the same)."""
    kinds = 'domain_kind=~"' + "|".join(ADDABLE_KINDS) + '"'
    rng = promql_duration(range_s)
    return {
        "targets": f"up{selector(base_selector)}",
        "info": f"wattfleet_agent_info{selector(base_selector)}",
        "power": f"sum by (host_id, domain_kind) (wattfleet_power_watts{selector(base_selector, kinds)})",
        "tokens_per_j": (
            f"sum by (host_id) (increase(wattfleet_output_tokens_total{selector(base_selector)}[{rng}]))"
            " / on (host_id) group_right sum by (host_id, domain_kind) "
            f"(increase(wattfleet_energy_joules_total{selector(base_selector, kinds)}[{rng}]))"
        ),
        "run_state": f"wattfleet_run_state{selector(base_selector)} == 1",
    }


class PrometheusFleetSource:
    """Reads the fleet from a Prometheus server; see the module docstring for the interface."""

    def __init__(
        self,
        url_or_client: str | PromClient,
        *,
        selector: str = DEFAULT_SELECTOR,
        range_s: float = 300.0,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = url_or_client if isinstance(url_or_client, PromClient) else PromClient(
            url_or_client, timeout_s=timeout_s)
        self.selector = selector
        self.range_s = range_s
        self.queries = fleet_queries(selector, range_s)
        self._clock = clock
        self._last_good: FleetSnapshot | None = None
        self._pool = ThreadPoolExecutor(max_workers=len(self.queries), thread_name_prefix="wattfleet-promql")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def refresh(self) -> FleetSnapshot:
        """Ask the five queries side by side and fold the answers; never raises for Prometheus trouble."""
        started = time.perf_counter()
        requests, received = self.client.requests, self.client.bytes_received
        at = self._clock()
        futures = {name: self._pool.submit(self.client.query, expr, at) for name, expr in self.queries.items()}
        answers: dict[str, list[Sample]] = {}
        errors: dict[str, str] = {}
        for name, future in futures.items():
            try:
                answers[name] = future.result()
            except PromError as exc:
                errors[name] = str(exc)
        elapsed = time.perf_counter() - started
        cost = (self.client.requests - requests, self.client.bytes_received - received)
        if not answers:
            return self._failed(at, next(iter(errors.values())), cost, elapsed)
        hosts = fold(answers)
        snap = FleetSnapshot(at, self.range_s, hosts, _status(hosts, errors, self.selector), *cost, elapsed)
        if not errors:
            self._last_good = snap
        return snap

    def _failed(self, at: float, error: str, cost: tuple[int, int], elapsed: float) -> FleetSnapshot:
        last = self._last_good
        if last is None:
            return FleetSnapshot(at, self.range_s, (), SourceStatus("error", error), *cost, elapsed, stale=True)
        when = time.strftime("%H:%M:%S", time.localtime(last.at_unix_s))
        message = f"{error}; showing the hosts as of {when}"
        return FleetSnapshot(at, self.range_s, last.hosts, SourceStatus("error", message), *cost, elapsed,
                             stale=True)


def fold(answers: Mapping[str, list[Sample]]) -> tuple[HostView, ...]:
    """Join the five answers on host_id into HostViews (hosts sorted by id)."""
    # A target is matched to its host by `instance` where the target serves one host (the agent's own
    # host_id then wins over whatever name sd had for it), else by the host_id label sd put on it.
    per_instance: dict[str, set[str]] = {}
    for s in answers.get("info", []):
        if s.labels.get("instance") and s.labels.get("host_id"):
            per_instance.setdefault(s.labels["instance"], set()).add(s.labels["host_id"])
    up: dict[str, bool] = {}
    for s in answers.get("targets", []):
        hosts_there = per_instance.get(s.labels.get("instance", ""), set())
        host = next(iter(hosts_there)) if len(hosts_there) == 1 else s.labels.get("host_id", "")
        if host:  # a target serving many hosts (one exporter, federation) is not one host
            up[host] = up.get(host, False) or s.value == 1.0
    labels: dict[str, dict[str, str]] = {}
    for s in answers.get("info", []):
        host = s.labels.get("host_id", "")
        if host:
            labels[host] = {k: v for k, v in s.labels.items() if k not in INFO_LABELS_DROPPED}
    power = _by_host_kind(answers.get("power", []))
    tpj = _by_host_kind(answers.get("tokens_per_j", []))
    states = {s.labels.get("host_id", ""): s.labels.get("state", "") for s in answers.get("run_state", [])}
    hosts = sorted((set(up) | set(labels) | set(power) | set(states)) - {""})
    return tuple(
        HostView(
            host_id=h,
            # without a per-host target (one exporter for many hosts, or federation) fresh series say it
            reporting=up[h] if h in up else h in labels or h in power,
            labels=labels.get(h, {}),
            power_w=power.get(h, {}),
            tokens_per_j=tpj.get(h, {}),
            run_state=states.get(h, ""),
        )
        for h in hosts
    )


def _by_host_kind(samples: list[Sample]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for s in samples:
        host, kind = s.labels.get("host_id", ""), s.labels.get("domain_kind", "")
        if host and kind and s.value == s.value and abs(s.value) != float("inf"):  # NaN, ±Inf: 0 J in range
            out.setdefault(host, {})[kind] = s.value
    return out


def _status(hosts: tuple[HostView, ...], errors: Mapping[str, str], base_selector: str) -> SourceStatus:
    if errors:
        name, first = next(iter(errors.items()))
        return SourceStatus("warn", f"{len(errors)} of 5 queries failed ({name}: {first}); the rest is shown")
    if not hosts:
        return SourceStatus("warn", f"Prometheus answered, but no wattfleet series match {{{base_selector}}}: "
                                    "check that it scrapes the agents (wattfleet sd) under that job")
    down = [h.host_id for h in hosts if not h.reporting]
    counted = f"{len(hosts) - len(down)} of {len(hosts)} hosts reporting"
    if not down:
        return SourceStatus("ok", counted)
    shown = ", ".join(down[:5]) + (f" (+{len(down) - 5} more)" if len(down) > 5 else "")
    return SourceStatus("warn", f"{counted}; not reporting: {shown} (Prometheus's /targets page says why)")
