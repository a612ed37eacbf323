"""Bearer-token authentication for the agent: a server interceptor and the token file.

Every RPC needs `authorization: Bearer <token>` except the standard health service, which load
balancers and `wattfleet discover` probe without credentials.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

from wattfleet.core.client import AUTH_HEADER, read_token_file
from wattfleet.core.errors import ConfigError
from wattfleet.core.wire import HEALTH_SERVICE_NAME

log = logging.getLogger(__name__)

TOKEN_FILE_NAME = "token"
OPEN_PREFIXES = (f"/{HEALTH_SERVICE_NAME}/",)


def load_or_create_token(data_dir: Path, token_file: Path | None) -> tuple[str, Path, bool]:
    """Return (token, path, created). A given file must exist; otherwise data_dir/token is made once."""
    if token_file is not None:
        token = read_token_file(token_file)
        mode = token_file.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("token file %s is readable by group or others; chmod 600 it", token_file)
        return token, token_file, False
    path = data_dir / TOKEN_FILE_NAME
    if path.exists():
        return read_token_file(path), path, False
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(token + "\n")
    except OSError as exc:
        raise ConfigError(
            f"cannot create the token file {path}: {exc.strerror or exc}; "
            "pass --data-dir to a writable folder or --token-file"
        ) from exc
    return token, path, True


def _deny_handler(handler: grpc.RpcMethodHandler, message: str) -> grpc.RpcMethodHandler:
    async def deny_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    async def deny_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
        yield  # pragma: no cover - makes this an async generator

    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(deny_unary, **kwargs)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(deny_stream, **kwargs)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(deny_unary, **kwargs)
    return grpc.stream_stream_rpc_method_handler(deny_stream, **kwargs)


class TokenAuthInterceptor(grpc.aio.ServerInterceptor):
    """Rejects calls without the right bearer token with UNAUTHENTICATED; health stays open."""

    def __init__(self, token: str) -> None:
        self._expected = token.encode()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method = details.method or ""
        if handler is None or method.startswith(OPEN_PREFIXES):
            return handler
        given = ""
        for key, value in details.invocation_metadata or ():
            if key == AUTH_HEADER:
                given = value if isinstance(value, str) else value.decode("latin-1")
                break
        scheme, _, credential = given.strip().partition(" ")
        # RFC 6750 (and RFC 7235): the scheme name is case-insensitive; the token itself is not.
        if scheme.lower() == "bearer" and hmac.compare_digest(credential.strip().encode(), self._expected):
            return handler
        if not given:
            why = "no token"
        elif scheme.lower() != "bearer":
            why = f"authorization scheme {scheme[:20]!r} is not Bearer"
        else:
            why = "wrong token"
        return _deny_handler(
            handler,
            f"{why}: send metadata 'authorization: Bearer <token>'; the token is in the agent's "
            "token file (printed when the agent starts)",
        )
