"""The fleet model: every host the console knows, folded from live streams and saved records.

Pure: no gRPC, no Textual, no zeroconf. Sources (live agent connections, record folders, a Prometheus
reader) call the feed methods (`upsert_host`, `set_status`, `on_info`, `on_power`, `on_run_progress`,
`add_record`); screens and the headless commands read `hosts` and the summaries built from them.
`version` grows with every change, so a screen redraws at most once per tick however many updates
arrived (floods are coalesced by the reader, not queued).

Times are seconds on the model's own clock (`clock()`, monotonic by default); tests give a fixed one.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from wattfleet.core.model import ENDED_STATES, AgentInfo, ProfileInfo, RunRecord, domain_kind

HostStatus = Literal["connecting", "live", "stale", "error", "unsupported", "offline"]
# offline: known from saved records only (no agent to reach); error: we cannot talk to it (reason says why)

HISTORY_POINTS = 240  # power points kept per domain (a few minutes at the console's telemetry rate)
STALE_AFTER_S = 5.0  # a live host with no data for this long is shown stale, never as live
# The kind whose power stands for a host in one number (filter `power`, sort): METRICS.md headline order.
HEADLINE_KINDS = ("gpu-board", "gpu-module", "soc-input", "cpu-package", "estimated")


@dataclass
class LiveRun:
    """A run in progress on a host, as WatchRun tells it."""

    run_id: str
    profile: str
    state: str = "queued"
    fraction: float = 0.0
    tokens_done: int = 0
    elapsed_s: float = 0.0
    detail: str = ""

    @property
    def tokens_per_s(self) -> float | None:
        return self.tokens_done / self.elapsed_s if self.elapsed_s > 0 and self.tokens_done else None


@dataclass(frozen=True)
class CounterWindow:
    """tokens/J from a host's counters over a recent span of time (a Prometheus source): every token and
    joule of the span, warm-up and idle included, so never one run's figure (docs/FLEET.md)."""

    source: str  # "Prometheus"
    span_s: float
    tokens_per_j: dict[str, float]  # domain kind -> tok/J; kinds are never added together
    headline_kind: str  # METRICS.md's headline order over the kinds measured ("" when none)

    @property
    def label(self) -> str:
        """The heatmap column this window fills, e.g. "last 5m"."""
        return f"last {span_text(self.span_s)}"

    @property
    def headline(self) -> tuple[str, float] | None:
        value = self.tokens_per_j.get(self.headline_kind)
        return None if value is None else (self.headline_kind, value)


def span_text(seconds: float) -> str:
    """300 -> "5m", 3600 -> "1h", 90 -> "90s"."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


@dataclass(frozen=True)
class SourceLine:
    """One source's own status for the strip (a Prometheus server: reachable, what it answered)."""

    level: Literal["ok", "warn", "error"]
    message: str


@dataclass
class HostView:
    """One host as the console shows it."""

    key: str
    label: str
    source: str = "mdns"  # "mdns", "inventory", "records", "prometheus", ...
    target: str = ""
    status: HostStatus = "connecting"
    reason: str = ""
    info: AgentInfo | None = None
    labels: dict[str, str] = field(default_factory=dict)
    power_w: dict[str, float] = field(default_factory=dict)  # domain -> latest reading
    history: dict[str, deque[tuple[float, float]]] = field(default_factory=dict)  # domain -> (t_s, W)
    last_seen_s: float | None = None
    live_run: LiveRun | None = None
    results: dict[str, RunRecord] = field(default_factory=dict)  # profile -> latest ended record
    runs: list[RunRecord] = field(default_factory=list)  # the journal's runs, newest first
    profiles: list[ProfileInfo] = field(default_factory=list)  # what the agent offers (ListProfiles)
    activity: str = ""  # what a source other than the agent says it is doing (Prometheus: idle, measuring, ...)
    window: CounterWindow | None = None  # tokens/J over a recent span, from counters (a Prometheus source)

    @property
    def reporting(self) -> bool:
        return self.status == "live"

    @property
    def device(self) -> str:
        """The host's main device: its first GPU or SoC, else its CPU (from GetInfo or the latest record)."""
        if self.info is not None and self.info.devices:
            devices = sorted(self.info.devices, key=lambda d: {"gpu": 0, "soc": 1}.get(d.kind, 2))
            return devices[0].name
        record = self.latest
        if record is not None:
            device = record.environment.get("device")
            name = device.get("name") if isinstance(device, dict) else None
            return str(name or record.device)
        return self.labels.get("device_model", "")

    @property
    def provider(self) -> str:
        record = self.latest
        if record is not None and record.environment.get("provider_used"):
            return str(record.environment["provider_used"]).replace("ExecutionProvider", "")
        if self.info is not None and self.info.working_providers:
            return ",".join(p.replace("ExecutionProvider", "") for p in self.info.working_providers)
        return ""

    @property
    def latest(self) -> RunRecord | None:
        """The newest ended record of any profile."""
        ended = list(self.results.values())
        return max(ended, key=lambda r: (r.ended_unix_ns, r.run_id)) if ended else None

    def power_by_kind(self) -> dict[str, float]:
        """Latest power summed per domain kind (gpu-board:0 + gpu-board:1); kinds are never added together."""
        out: dict[str, float] = {}
        for domain, watts in self.power_w.items():
            kind = domain_kind(domain)
            out[kind] = out.get(kind, 0.0) + watts
        return out

    @property
    def headline_power(self) -> tuple[str, float] | None:
        """(kind, W) of the kind that stands for this host (METRICS.md headline order), or None."""
        by_kind = self.power_by_kind()
        return next(((k, by_kind[k]) for k in HEADLINE_KINDS if k in by_kind), None)

    @property
    def tokens_per_s(self) -> float | None:
        """Live during a run, else the latest record's figure."""
        if self.live_run is not None and self.live_run.tokens_per_s is not None:
            return self.live_run.tokens_per_s
        record = self.latest
        return None if record is None else _value(record, "tokens_per_s")


def _value(record: RunRecord, name: str) -> float | None:
    figure = record.figure(name)
    return None if figure is None else figure.value


def profile_name(record: RunRecord) -> str:
    return str(record.profile.get("name") or "(inline)")


class FleetModel:
    """Hosts by key, fed by sources, read by screens. Not thread-safe: feed it from one event loop."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, stale_after_s: float = STALE_AFTER_S) -> None:
        self.clock = clock
        self.stale_after_s = stale_after_s
        self.hosts: dict[str, HostView] = {}
        self.version = 0
        self.notes: list[str] = []  # things to tell the operator that belong to no host (a bad file, ...)
        self.source_status: dict[str, SourceLine] = {}  # source name -> its own status line (Prometheus)

    def _changed(self) -> None:
        self.version += 1

    # --- feeding ---------------------------------------------------------------------------------

    def upsert_host(self, key: str, label: str, *, source: str = "mdns", target: str = "",
                    labels: Mapping[str, str] | None = None) -> HostView:
        host = self.hosts.get(key)
        if host is None:
            host = HostView(key, label, source, target, status="offline" if source == "records" else "connecting")
            self.hosts[key] = host
        else:
            host.label = label or host.label
            host.target = target or host.target
        if labels:
            host.labels.update(labels)
        self._changed()
        return host

    def remove_host(self, key: str) -> None:
        if self.hosts.pop(key, None) is not None:
            self._changed()

    def set_status(self, key: str, status: HostStatus, reason: str = "") -> None:
        host = self.hosts.get(key)
        if host is None or (host.status, host.reason) == (status, reason):
            return
        host.status, host.reason = status, reason
        if status != "live":
            host.power_w.clear()  # never show a number from a host that is not reporting as live
        self._changed()

    def on_info(self, key: str, info: AgentInfo) -> None:
        host = self.hosts.get(key)
        if host is None:
            return
        host.info = info
        host.label = info.host_id or host.label
        host.labels.update(info.labels)
        self._changed()

    def on_profiles(self, key: str, profiles: Iterable[ProfileInfo]) -> None:
        host = self.hosts.get(key)
        if host is not None:
            host.profiles = list(profiles)
            self._changed()

    def on_power(self, key: str, readings: Iterable[tuple[str, float]], at_s: float | None = None) -> None:
        """Power readings (domain, W) that arrived now: the host is live and these are its latest values."""
        host = self.hosts.get(key)
        if host is None:
            return
        now = self.clock() if at_s is None else at_s
        for domain, watts in readings:
            host.power_w[domain] = watts
            series = host.history.get(domain)
            if series is None:
                series = host.history[domain] = deque(maxlen=HISTORY_POINTS)
            series.append((now, watts))
        self.seen(key, now)

    def seen(self, key: str, at_s: float | None = None) -> None:
        """The host answered: it is live from now on."""
        host = self.hosts.get(key)
        if host is None:
            return
        host.last_seen_s = self.clock() if at_s is None else at_s
        if host.status != "live":
            host.status, host.reason = "live", ""
        self._changed()

    def on_run_progress(self, key: str, run: LiveRun | None) -> None:
        host = self.hosts.get(key)
        if host is None:
            return
        host.live_run = run
        self._changed()

    def add_record(self, key: str, record: RunRecord) -> None:
        """An ended run's record (full or slim): it fills the heatmap cell of (host, profile)."""
        host = self.hosts.get(key)
        if host is None:
            return
        host.runs = [r for r in host.runs if r.run_id != record.run_id]
        host.runs.insert(0, record)
        host.runs.sort(key=lambda r: (r.started_unix_ns, r.run_id), reverse=True)
        if record.state in ENDED_STATES:
            name = profile_name(record)
            before = host.results.get(name)
            if before is None or (before.ended_unix_ns, before.run_id) <= (record.ended_unix_ns, record.run_id):
                host.results[name] = record
            if host.live_run is not None and host.live_run.run_id == record.run_id:
                host.live_run = None
        for k, v in record.labels.items():
            host.labels.setdefault(k, v)
        self._changed()

    def set_runs(self, key: str, runs: Iterable[RunRecord]) -> None:
        """The journal's run list (ListRuns): history and the latest result per profile."""
        for record in runs:
            self.add_record(key, record)

    def on_window(self, key: str, window: CounterWindow | None, activity: str = "") -> None:
        """A source's counter window and activity for a host (Prometheus); None clears the window."""
        host = self.hosts.get(key)
        if host is None or (host.window, host.activity) == (window, activity):
            return
        host.window, host.activity = window, activity
        self._changed()

    def set_source_status(self, name: str, line: SourceLine) -> None:
        if self.source_status.get(name) != line:
            self.source_status[name] = line
            self._changed()

    def note(self, text: str) -> None:
        self.notes.append(text)
        self._changed()

    # --- reading ---------------------------------------------------------------------------------

    def tick(self) -> None:
        """Mark live hosts that have gone quiet as stale (called about once a second)."""
        now = self.clock()
        for host in self.hosts.values():
            if host.status == "live" and host.last_seen_s is not None and now - host.last_seen_s > self.stale_after_s:
                self.set_status(host.key, "stale", f"no data for {now - host.last_seen_s:.0f} s; reconnecting")

    def sorted_hosts(self) -> list[HostView]:
        return sorted(self.hosts.values(), key=lambda h: (h.label, h.key))

    def profiles(self) -> list[str]:
        """Every profile with a result on some host, sorted."""
        return sorted({p for h in self.hosts.values() for p in h.results})

    def records(self, keys: Iterable[str] | None = None) -> list[RunRecord]:
        """Every run the model holds for these hosts (all when None), each once: what the audit reads."""
        seen: set[tuple[str, str]] = set()
        out: list[RunRecord] = []
        for key in self.hosts if keys is None else keys:
            host = self.hosts.get(key)
            for record in host.runs if host is not None else ():
                if (key, record.run_id) not in seen:
                    seen.add((key, record.run_id))
                    out.append(record)
        return out
