"""A real agent process on loopback: tokens, health, reflection, TLS and mutual TLS."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from agents import RunningAgent, start_agent

from wattfleet.core.client import AgentClient, AgentError


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAgent]:
    running = start_agent(tmp_path_factory.mktemp("sec"), host_id="sec-agent")
    yield running
    assert running.stop() == 0


async def test_get_info_with_token(agent: RunningAgent) -> None:
    async with AgentClient(agent.target, token=agent.token) as client:
        info = await client.get_info()
    assert info.host_id == "sec-agent"
    assert info.auth_required is True
    assert info.agent_version
    assert "onnxruntime" in info.runtimes or "onnxruntime-gpu" in info.runtimes
    assert any(d.kind == "cpu" for d in info.devices)


@pytest.mark.parametrize("token", [None, "not-the-token"])
async def test_calls_without_the_token_are_unauthenticated(agent: RunningAgent, token: str | None) -> None:
    async with AgentClient(agent.target, token=token) as client:
        with pytest.raises(AgentError) as err:
            await client.get_info()
    assert err.value.code == "UNAUTHENTICATED"
    assert "Bearer" in err.value.message


@pytest.mark.parametrize(("header", "works", "said"), [
    ("bearer {token}", True, ""),  # RFC 6750: the scheme is case-insensitive
    ("BEARER {token}", True, ""),
    ("Bearer {token}", True, ""),
    ("Bearer {token}x", False, "wrong token"),
    ("Basic {token}", False, "scheme 'Basic' is not Bearer"),  # not reported as a wrong token
    ("{token}", False, "is not Bearer"),
])
async def test_the_bearer_scheme_is_case_insensitive_and_a_wrong_scheme_is_named(
    agent: RunningAgent, header: str, works: bool, said: str
) -> None:
    from wattfleet.core import wire

    async with grpc.aio.insecure_channel(agent.target) as channel:
        call = wire.agent_stub(channel).GetInfo(wire.get_info_request(),
                                                metadata=(("authorization", header.format(token=agent.token)),))
        if works:
            assert (await call).host_id == "sec-agent"
            return
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED and said in (err.value.details() or "")


async def test_health_stays_open_without_a_token(agent: RunningAgent) -> None:
    async with AgentClient(agent.target) as client:
        assert await client.health() == "SERVING"


def test_token_file_is_private_and_reused(agent: RunningAgent) -> None:
    path = agent.data_dir / "token"
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o600, oct(mode)
    assert path.read_text().strip() == agent.token
    assert len(agent.token) >= 32


async def test_reflection_lists_our_service(agent: RunningAgent) -> None:
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    # The generic reflection client is synchronous; it needs the token like any other caller.
    channel = grpc.intercept_channel(
        grpc.insecure_channel(agent.target),
        _MetadataInterceptor((("authorization", f"Bearer {agent.token}"),)),
    )
    try:
        services = ProtoReflectionDescriptorDatabase(channel).get_services()
    finally:
        channel.close()
    assert "wattfleet.v1.Agent" in services
    assert "grpc.health.v1.Health" in services


class _MetadataInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self._metadata = metadata

    def _with(self, details):
        return details._replace(metadata=list(details.metadata or []) + list(self._metadata))

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._with(client_call_details), request)

    def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        return continuation(self._with(client_call_details), request_iterator)


# --- TLS -------------------------------------------------------------------------------------


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway CA, a server cert for 127.0.0.1/localhost and a client cert, made with openssl."""
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=wattfleet-test-ca",
             "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))
    for name, san in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"), ("client", "subjectAltName=DNS:client")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"))
        (d / f"{name}.ext").write_text(san + "\n")
        _openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
                 "-CAcreateserial", "-days", "1", "-extfile", str(d / f"{name}.ext"), "-out", str(d / f"{name}.pem"))
    return d


async def test_tls_agent_serves_a_client_that_trusts_its_ca(tmp_path: Path, pki: Path) -> None:
    agent = start_agent(tmp_path, host_id="tls-agent",
                        extra=("--tls-cert", str(pki / "server.pem"), "--tls-key", str(pki / "server.key")))
    try:
        async with AgentClient(agent.target, token=agent.token, tls_ca=pki / "ca.pem") as client:
            info = await client.get_info()
        assert info.tls is True
        async with AgentClient(agent.target, token=agent.token) as plain:  # no TLS: cannot talk
            with pytest.raises(AgentError) as err:
                await plain.get_info(timeout_s=3)
        assert err.value.code in {"UNAVAILABLE", "DEADLINE_EXCEEDED"}
    finally:
        assert agent.stop() == 0


async def test_mutual_tls_requires_a_client_certificate(tmp_path: Path, pki: Path) -> None:
    agent = start_agent(tmp_path, host_id="mtls-agent",
                        extra=("--tls-cert", str(pki / "server.pem"), "--tls-key", str(pki / "server.key"),
                               "--tls-client-ca", str(pki / "ca.pem")))
    try:
        async with AgentClient(agent.target, token=agent.token, tls_ca=pki / "ca.pem",
                               client_cert=pki / "client.pem", client_key=pki / "client.key") as client:
            assert (await client.get_info()).host_id == "mtls-agent"
        async with AgentClient(agent.target, token=agent.token, tls_ca=pki / "ca.pem") as anonymous:
            with pytest.raises(AgentError) as err:
                await anonymous.get_info(timeout_s=3)
        assert err.value.code in {"UNAVAILABLE", "DEADLINE_EXCEEDED"}
    finally:
        assert agent.stop() == 0


async def test_insecure_agent_warns_and_serves_without_token(tmp_path: Path) -> None:
    agent = start_agent(tmp_path, host_id="open-agent", insecure=True)
    try:
        assert "WARNING: --insecure" in agent.log()
        async with AgentClient(agent.target) as client:
            info = await client.get_info()
        assert info.auth_required is False
        assert not (agent.data_dir / "token").exists()
    finally:
        assert agent.stop() == 0
    assert os.path.exists(agent.data_dir / "ready.json") is False
