"""The console's Prometheus source: `PrometheusFleetSource` snapshots, on a timer, folded into the fleet model.

`wattfleet tui --prometheus URL` fills the fleet screen from here instead of a stream per agent: hosts keyed
`prometheus:<host_id>`, their live power per domain kind, tokens/J from the counters over the source's span
(a `CounterWindow`: the heatmap's "last 5m" column), what they are running, their labels. Prometheus trouble
never stops the console: its status line goes to the strip, and when the server cannot be asked at all the
hosts of the last good answer stay on screen, marked stale. Pure apart from HTTP (no gRPC, Textual or
zeroconf); the refresh itself blocks, so it runs in a thread.
"""

from __future__ import annotations

import asyncio

from wattfleet.tui.fleet.model import CounterWindow, FleetModel, SourceLine
from wattfleet.tui.fleet.prom_fleet import DEFAULT_SELECTOR, FleetSnapshot, PrometheusFleetSource

KEY_PREFIX = "prometheus:"
REFRESH_S = 2.0
TARGET_DOWN = "its /metrics target is down in Prometheus (up == 0); Prometheus's /targets page says why"
NOT_ANSWERED = "no longer in Prometheus's answer (its series are gone; is it still scraped?)"


def host_key(host_id: str) -> str:
    """The model key of a host known by its host id (Prometheus's and the launcher's agents share it)."""
    return f"{KEY_PREFIX}{host_id}"


class PrometheusSource:
    """Feeds the model from a Prometheus server every `interval_s` (five queries per refresh)."""

    def __init__(self, url: str, *, selector: str = DEFAULT_SELECTOR, range_s: float = 300.0,
                 interval_s: float = REFRESH_S, timeout_s: float = 5.0,
                 fleet: PrometheusFleetSource | None = None) -> None:
        self.fleet = fleet or PrometheusFleetSource(url, selector=selector, range_s=range_s, timeout_s=timeout_s)
        self.url = self.fleet.client.url
        self.range_s = self.fleet.range_s
        self.interval_s = interval_s
        self.name = f"Prometheus {self.url}"
        self.known: set[str] = set()  # keys this source has reported at least once
        self.last: FleetSnapshot | None = None

    async def run(self, model: FleetModel) -> None:
        model.set_source_status(self.name, SourceLine("warn", f"asking for the fleet ({self.fleet.selector})..."))
        try:
            while True:
                snap = await asyncio.to_thread(self.fleet.refresh)
                self.apply(model, snap)
                await asyncio.sleep(self.interval_s)
        finally:
            self.fleet.close()

    def apply(self, model: FleetModel, snap: FleetSnapshot) -> None:
        """Fold one snapshot into the model; the status line says what Prometheus answered."""
        self.last = snap
        message = snap.status.message.removeprefix(f"{self.url}: ")  # the line is already named by the URL
        model.set_source_status(self.name, SourceLine(snap.status.level, message))
        answered: set[str] = set()
        for h in snap.hosts:
            key = host_key(h.host_id)
            answered.add(key)
            new = key not in model.hosts
            labels = {k: v for k, v in h.labels.items() if k != "version"}  # the agent's version: not a label
            model.upsert_host(key, h.host_id, source="prometheus", target=self.url if new else "", labels=labels)
            self.known.add(key)
            if snap.stale:  # the server could not be asked: the last good hosts, never shown as live
                model.set_status(key, "stale", snap.status.message)
                continue
            window = CounterWindow("Prometheus", self.range_s, dict(h.tokens_per_j), h.headline_kind) \
                if h.tokens_per_j else None
            model.on_window(key, window, h.run_state)
            if h.reporting:
                if h.power_w:
                    model.on_power(key, sorted(h.power_w.items()))
                else:
                    model.seen(key)
            else:
                was_live = model.hosts[key].last_seen_s is not None
                model.set_status(key, "stale" if was_live else "error", TARGET_DOWN)
        if snap.stale:
            answered = self.known
        for key in sorted(self.known - answered):
            model.set_status(key, "stale", NOT_ANSWERED)
