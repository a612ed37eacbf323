"""Hosts whose tokens/J stands out among peers of the same device model, with the evidence beside them.

Peers: hosts that ran the same profile on the same device model, measured in the same domain key
(estimates, and domains shared with other work, never take part). Rule (OUTLIER_RULE): Iglewicz-Hoaglin
modified z-score beyond 3.5 among at least MIN_PEERS hosts, and at least MIN_RELATIVE from the peers'
median, so that the tiny spread of identical machines is not named. The evidence compares what the
records say moves the numbers: provider, precision, driver, and the device's state (power limit,
clocks, temperature, throttle reasons seen).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from wattfleet.tui.fleet.audit.model import Environment, domain_key
from wattfleet.tui.fleet.audit.power import Efficiency
from wattfleet.tui.fleet.audit.stats import MODIFIED_Z_LIMIT, median, modified_z

MIN_PEERS = 3
MIN_RELATIVE = 0.05
NUMERIC_TOLERANCE = 0.05  # a power limit, clock or temperature this close to the peers' median is "the same"
OUTLIER_RULE = (f"modified z-score |0.6745 (x - median) / MAD| > {MODIFIED_Z_LIMIT:g} (Iglewicz & Hoaglin; "
                f"mean absolute deviation x 1.253314 when MAD is 0), among >= {MIN_PEERS} hosts of one device "
                f"model, profile and domain (estimates and shared domains left out), and >= {MIN_RELATIVE:.0%} "
                f"from their median; evidence: each field against the peers' most common value (numbers: their "
                f"median, named when more than {NUMERIC_TOLERANCE:.0%} away)")


@dataclass(frozen=True)
class Outlier:
    host: str
    profile: str
    device_model: str
    domain: str
    tokens_per_j: float
    peer_median: float
    n_peers: int
    z: float
    evidence: tuple[str, ...]

    @property
    def direction(self) -> str:
        return "low" if self.tokens_per_j < self.peer_median else "high"


_TEXT: tuple[tuple[str, Callable[[Environment], str]], ...] = (
    ("execution provider", lambda e: e.provider or "unknown"),
    ("precision", lambda e: e.precision or "unknown"),
    ("driver", lambda e: e.driver or "unknown"),
    ("throttle reasons seen", lambda e: ", ".join(e.throttle_reasons) or "none recorded"),
)


def _numbers(e: Environment) -> dict[str, tuple[float, str]]:
    """The device state's numbers by name, with their units: power limit, each clock, temperature."""
    out = {f"{name} clock": (mhz, "MHz") for name, mhz in e.clocks_mhz}
    if e.power_limit_w is not None:
        out["power limit"] = (e.power_limit_w, "W")
    if e.temperature_c is not None:
        out["temperature"] = (e.temperature_c, "°C")
    return out


def evidence(env: Environment, peers: Sequence[Environment]) -> tuple[str, ...]:
    """What differs between a host and its peers: text fields against the peers' most common value,
    numbers (power limit, clocks, temperature) against the peers' median beyond NUMERIC_TOLERANCE."""
    out: list[str] = []
    same: list[str] = []
    unknown: list[str] = []
    for name, get in _TEXT:
        mine = get(env)
        common = Counter(get(p) for p in peers).most_common(1)[0][0] if peers else "unknown"
        if mine == "unknown" and common == "unknown":
            unknown.append(name)
        elif mine != common:
            out.append(f"{name} {mine} (peers: {common})")
        else:
            same.append(name)
    mine_n = _numbers(env)
    peer_n = [_numbers(p) for p in peers]
    clocks = sorted(k for k in {*mine_n, *(k for n in peer_n for k in n)} if k.endswith(" clock"))
    for name in ("power limit", *(clocks or ["clocks"]), "temperature"):
        values = [n[name][0] for n in peer_n if name in n]
        unit = mine_n[name][1] if name in mine_n else next((n[name][1] for n in peer_n if name in n), "")
        if name not in mine_n and not values:
            unknown.append(name)
        elif name not in mine_n:
            out.append(f"{name} unknown (peers: {median(values):g} {unit})")
        elif not values:
            out.append(f"{name} {mine_n[name][0]:g} {unit} (peers: unknown)")
        elif abs(mine_n[name][0] - (m := median(values))) > NUMERIC_TOLERANCE * abs(m):
            out.append(f"{name} {mine_n[name][0]:g} {unit} (peers: {m:g} {unit})")
        else:
            same.append(name)
    if not out:
        out.append("no difference in " + ", ".join(same))
    if unknown:
        out.append("not in the records: " + ", ".join(unknown))
    return tuple(out)


def find_outliers(effs: Sequence[Efficiency], envs: Mapping[tuple[str, str], Environment]) -> list[Outlier]:
    """Outliers by OUTLIER_RULE; `envs` maps (host, profile) to the environment of the host's runs."""
    groups: dict[tuple[str, str, str], list[Efficiency]] = defaultdict(list)
    for e in effs:
        if e.tokens_per_j is not None and e.domain and not e.estimated and not e.shared:
            groups[(e.profile, e.device_model, domain_key(e.domain))].append(e)
    out = []
    for (profile, model, key), members in sorted(groups.items()):
        if len(members) < MIN_PEERS:
            continue
        values = [e.tokens_per_j for e in members if e.tokens_per_j is not None]
        m = median(values)
        for e in members:
            x = e.tokens_per_j
            if x is None:
                continue
            z = modified_z(x, values)
            if z is None or abs(z) <= MODIFIED_Z_LIMIT or m == 0 or abs(x - m) / abs(m) < MIN_RELATIVE:
                continue
            peers = [envs.get((p.host, profile), Environment()) for p in members if p.host != e.host]
            out.append(Outlier(e.host, profile, model, key, x, m, len(members), z,
                               evidence(envs.get((e.host, profile), Environment()), peers)))
    return out
