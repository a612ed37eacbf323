"""Run and telemetry RPCs (issue 5). Until then they answer UNIMPLEMENTED.

RunRpcs is mixed into the agent's servicer; RunServices holds what those RPCs need and is started and
stopped by the server around the gRPC lifetime.
"""

from __future__ import annotations

from typing import Any

import grpc

from wattfleet.agent.service.config import AgentConfig

_LATER = "not implemented in this agent version yet"


class RunServices:
    """Run manager, journal, telemetry sampler and exporter for one agent."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class RunRpcs:
    runs: RunServices

    async def ListProfiles(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"ListProfiles: {_LATER}")

    async def StartRun(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"StartRun: {_LATER}")

    async def CancelRun(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"CancelRun: {_LATER}")

    async def GetRun(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"GetRun: {_LATER}")

    async def ListRuns(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"ListRuns: {_LATER}")

    async def WatchRun(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"WatchRun: {_LATER}")

    async def StreamTelemetry(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"StreamTelemetry: {_LATER}")
