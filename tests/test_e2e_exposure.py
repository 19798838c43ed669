"""A fresh stack as a stranger who reaches its ports finds it: real processes, started as ``make run``
starts them. Every method of every gRPC service in ``gempool.api`` (found from the descriptors, so a
new RPC is covered without touching this file) refuses a call without the internal credential; the
gateway refuses the admin token as a client token and locks out an address that guesses tokens,
whatever X-Forwarded-For it claims."""

import importlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf.descriptor import MethodDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc

import gempool.api
from gempool.common import internalauth
from gempool.common.devstack import Stack
from gempool.fakegemini.server import Running

from .conftest import StackFactory

pytestmark = pytest.mark.e2e
TEAM, ADMIN = "team-token-exposure", "admin-token-exposure"


def all_methods() -> list[MethodDescriptor]:
    """Every RPC of every service our generated modules declare."""
    methods = []
    for root in map(Path, gempool.api.__path__):  # namespace packages: pkgutil does not walk them
        for path in sorted(root.rglob("*_pb2.py")):
            name = ".".join(("gempool", "api", *path.relative_to(root).with_suffix("").parts))
            for service in importlib.import_module(name).DESCRIPTOR.services_by_name.values():
                methods += service.methods
    assert len(methods) >= 30, methods  # the three services' RPCs at least
    return methods


METHODS = all_methods()


def port_of(stack: Stack, method: MethodDescriptor) -> int:
    """The process serving ``method`` (gempool.api.<service>.v1): a new service fails here, loudly."""
    service = method.containing_service.full_name.split(".")[2]
    return {"keypool": stack.ports.keypool, "config": stack.ports.config, "imagehost": stack.ports.imagehost}[
        service
    ]


@pytest.fixture(scope="module")
def stack(make_stack: StackFactory, upstream: Running, pg_url: str) -> Stack:
    env = {
        "DATABASE_URL": pg_url,
        "BASE_URL": f"{upstream.url}/v1beta",
        "API_KEYS": "ok-a-key",
        "ALLOWED_TOKENS": TEAM,
        "AUTH_TOKEN": ADMIN,
    }
    return make_stack(env, expect_keys=1)


def call(channel: grpc.Channel, method: MethodDescriptor, metadata: list[tuple[str, str]]) -> grpc.StatusCode:
    """Calls ``method`` with an empty request (b"" is the empty message); the status it ends with.

    A streamed answer is read up to its first message, then cancelled (Watch never ends by itself).
    """
    path = f"/{method.containing_service.full_name}/{method.name}"
    kind = (
        ("stream" if method.client_streaming else "unary")
        + "_"
        + ("stream" if method.server_streaming else "unary")
    )
    multicallable: Any = getattr(channel, kind)(path)
    request: Any = iter([b""]) if method.client_streaming else b""
    try:
        answer = multicallable(request, metadata=metadata, timeout=10)
        if method.server_streaming:
            next(answer, None)
            answer.cancel()
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


@pytest.fixture(scope="module")
def channels(stack: Stack) -> Iterator[dict[int, grpc.Channel]]:
    opened = {
        port: grpc.insecure_channel(f"127.0.0.1:{port}")
        for port in (stack.ports.keypool, stack.ports.config, stack.ports.imagehost)
    }
    yield opened
    for channel in opened.values():
        channel.close()


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.full_name)
def test_every_method_refuses_a_caller_without_the_credential(
    stack: Stack, channels: dict[int, grpc.Channel], method: MethodDescriptor
) -> None:
    channel = channels[port_of(stack, method)]
    assert call(channel, method, []) == grpc.StatusCode.UNAUTHENTICATED
    wrong = [("authorization", f"Bearer {stack.internal_token[:-1]}x")]
    assert call(channel, method, wrong) == grpc.StatusCode.UNAUTHENTICATED
    right = [("authorization", f"Bearer {stack.internal_token}")]
    assert call(channel, method, right) != grpc.StatusCode.UNAUTHENTICATED


def test_with_the_credential_the_keys_are_there(stack: Stack) -> None:
    """The same call a keypool makes at start works with the credential: the denial above is not a
    broken service."""
    from gempool.api.config.v1 import config_pb2, config_pb2_grpc

    with internalauth.sync_channel(f"127.0.0.1:{stack.ports.config}", stack.internal_token) as channel:
        reply = config_pb2_grpc.ConfigServiceStub(channel).ListKeys(config_pb2.ListKeysRequest(), timeout=10)
    assert len(reply.keys) == 1


def test_health_needs_no_credential(stack: Stack) -> None:
    for port in (stack.ports.keypool, stack.ports.config, stack.ports.imagehost):
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def outward_address() -> str | None:
    """This machine's address on its default route (no packet is sent), or None without one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the route
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def test_the_local_stack_listens_on_loopback_only(stack: Stack) -> None:
    address = outward_address()
    if address is None:
        pytest.skip("this machine has no address besides loopback")
    for port in (stack.ports.keypool, stack.ports.config, stack.ports.imagehost):
        with socket.socket() as sock, pytest.raises(OSError):
            sock.settimeout(2)
            sock.connect((address, port))


def generate(stack: Stack, token: str, forwarded_for: str = "") -> httpx.Response:
    url = f"{stack.gateway_url}/v1beta/models/gemini-2.5-flash:generateContent"
    headers = {"x-goog-api-key": token} | ({"x-forwarded-for": forwarded_for} if forwarded_for else {})
    return httpx.post(url, headers=headers, json={"contents": [{"parts": [{"text": "hi"}]}]}, timeout=30)


def test_the_admin_token_is_not_a_client_token(stack: Stack) -> None:
    refused = generate(stack, ADMIN)
    assert refused.status_code == 403 and "team token" in refused.json()["error"]["message"]
    assert generate(stack, TEAM).status_code == 200


def test_a_guessing_address_is_locked_whatever_it_forwards(stack: Stack) -> None:
    """20 wrong tokens (CLIENT_AUTH_MAX_FAILURES' default), each claiming another X-Forwarded-For:
    the gateway believes none by default, so they all count against this one address."""
    answers = {generate(stack, f"guess-{n}", f"203.0.113.{n}").status_code for n in range(20)}
    assert answers <= {401, 429}
    locked = generate(stack, TEAM, "198.51.100.1")
    assert locked.status_code == 429 and 1 <= int(locked.headers["retry-after"]) <= 60
    assert "wrong API token" in locked.json()["error"]["message"]
