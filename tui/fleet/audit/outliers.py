"""Hosts whose tokens/J stands out among peers of the same device model, with the evidence beside them.

Peers: hosts that ran the same profile on the same device model, measured in the same domain key
(estimates never take part). Rule (OUTLIER_RULE): Iglewicz-Hoaglin modified z-score beyond 3.5 among
at least MIN_PEERS hosts, and at least MIN_RELATIVE from the peers' median, so that the tiny spread of
identical machines is not named.
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
OUTLIER_RULE = (f"modified z-score |0.6745 (x - median) / MAD| > {MODIFIED_Z_LIMIT:g} (Iglewicz & Hoaglin; "
                f"mean absolute deviation x 1.253314 when MAD is 0), among >= {MIN_PEERS} hosts of one device "
                f"model, profile and domain, and >= {MIN_RELATIVE:.0%} from their median")


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


def _fmt_w(v: float | None) -> str:
    return "unknown" if v is None else f"{v:g} W"


def _fmt_clocks(c: tuple[tuple[str, float], ...]) -> str:
    return ", ".join(f"{k} {v:g} MHz" for k, v in c) if c else "unknown"


_FIELDS: tuple[tuple[str, Callable[[Environment], str]], ...] = (
    ("execution provider", lambda e: e.provider or "unknown"),
    ("precision", lambda e: e.precision or "unknown"),
    ("driver", lambda e: e.driver or "unknown"),
    ("power limit", lambda e: _fmt_w(e.power_limit_w)),
    ("clocks", lambda e: _fmt_clocks(e.clocks_mhz)),
    ("throttle reasons seen", lambda e: ", ".join(e.throttle_reasons) or "none recorded"),
)


def evidence(env: Environment, peers: Sequence[Environment]) -> tuple[str, ...]:
    """What differs between a host and its peers' most common setting, field by field."""
    out: list[str] = []
    unknown: list[str] = []
    for name, get in _FIELDS:
        mine = get(env)
        common = Counter(get(p) for p in peers).most_common(1)[0][0] if peers else "unknown"
        if mine == "unknown" and common == "unknown":
            unknown.append(name)
        elif mine != common:
            out.append(f"{name} {mine} (peers: {common})")
    if not out:
        out.append("no difference in " + ", ".join(n for n, _ in _FIELDS if n not in unknown))
    if unknown:
        out.append("not in the records: " + ", ".join(unknown))
    return tuple(out)


def find_outliers(effs: Sequence[Efficiency], envs: Mapping[tuple[str, str], Environment]) -> list[Outlier]:
    """Outliers by OUTLIER_RULE; `envs` maps (host, profile) to the environment of the host's runs."""
    groups: dict[tuple[str, str, str], list[Efficiency]] = defaultdict(list)
    for e in effs:
        if e.tokens_per_j is not None and e.domain and not e.estimated:
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
