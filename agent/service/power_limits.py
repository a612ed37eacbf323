"""The agent's side of power-limit sweeps: the consent a run gets (limits journaled in the agent's own
journal before each change), and, at start, putting back whatever a crash left changed.

The RAPL root is the one the agent's `rapl:ROOT` power source reads (default /), so limits and telemetry
see the same powercap tree.
"""

from __future__ import annotations

from wattfleet.agent.service.config import AgentConfig
from wattfleet.agent.service.journal import Journal
from wattfleet.agent.telemetry.limits import PowerLimits, rapl_root, restore_journaled


def power_limits_for(config: AgentConfig, journal: Journal) -> PowerLimits | None:
    """What run_profile gets for a power-limit sweep: None unless the agent was started with
    --allow-power-limits (engine.prepare refuses such runs before that)."""
    if not config.allow_power_limits:
        return None
    return PowerLimits(journal=journal, root=rapl_root(config.power_sources))


def restore_at_start(config: AgentConfig, journal: Journal) -> list[str]:
    """Put back every power limit the journal still holds (one line each, for the log). Done whether or
    not this start allows power limits: it undoes what an earlier, allowed sweep left changed."""
    if not journal.pending_limits():
        return []
    return restore_journaled(journal, root=rapl_root(config.power_sources))
