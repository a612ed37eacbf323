"""The Agent gRPC servicer. Thin: each method delegates to plain code elsewhere."""

from __future__ import annotations

from typing import Any

import grpc

from wattfleet.agent.service.run_rpcs import RunRpcs, RunServices
from wattfleet.core import wire
from wattfleet.core.model import AgentInfo


class AgentServicer(RunRpcs, wire.AgentServicerBase):  # type: ignore[misc]
    def __init__(self, runs: RunServices) -> None:
        self.runs = runs
        self.info: AgentInfo | None = None  # set once the start-up probe is done

    async def GetInfo(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        if self.info is None:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "agent is still starting; retry in a moment")
        assert self.info is not None
        return wire.agent_info_to_proto(self.info)
