"""The internal credential on a real grpc.aio server started by the shared bootstrap (port 0)."""

import asyncio
import subprocess
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from gempool.common import grpcserver, internalauth
from gempool.common.devstack import Stack
from gempool.common.settings import GrpcServiceSettings

TOKEN = "s3cret-internal-token"
SNAKE = {"UnaryUnary": "unary_unary", "UnaryStream": "unary_stream", "StreamUnary": "stream_unary"}
SNAKE["StreamStream"] = "stream_stream"
KINDS = tuple(SNAKE)
ran: list[str] = []  # the methods whose handler ran


async def _unary(request: bytes, _: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    ran.append("unary")
    return request


async def _unary_stream(request: bytes, _: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[bytes]:
    ran.append("unary_stream")
    yield request


async def _stream_unary(requests: AsyncIterator[bytes], _: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    ran.append("stream_unary")
    return b"".join([r async for r in requests])


async def _stream_stream(
    requests: AsyncIterator[bytes], _: grpc.aio.ServicerContext[Any, Any]
) -> AsyncIterator[bytes]:
    ran.append("stream_stream")
    async for request in requests:
        yield request


def register(server: grpc.aio.Server) -> None:
    """One method of each kind (our protos have no client-streaming-only RPC, a new one may)."""
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        "UnaryUnary": grpc.unary_unary_rpc_method_handler(_unary),
        "UnaryStream": grpc.unary_stream_rpc_method_handler(_unary_stream),
        "StreamUnary": grpc.stream_unary_rpc_method_handler(_stream_unary),
        "StreamStream": grpc.stream_stream_rpc_method_handler(_stream_stream),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo", handlers),))


@pytest.fixture
async def served() -> AsyncIterator[tuple[int, CollectorRegistry]]:
    """The bootstrap every gempool service uses, with TOKEN as its credential."""
    stop, registry = asyncio.Event(), CollectorRegistry()
    port: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        grpcserver.serve(
            name="test",
            host="127.0.0.1",
            port=0,
            metrics_port=-1,
            registry=registry,
            register=register,
            grace=0.1,
            token=TOKEN,
            stop=stop,
            ready=port.set_result,
        )
    )
    ran.clear()
    try:
        yield await asyncio.wait_for(port, 10), registry
    finally:
        stop.set()
        await task


async def call(channel: grpc.aio.Channel, kind: str, metadata: list[tuple[str, str]] | None = None) -> Any:
    """Calls test.Echo/<kind> with b"hi"; the answer (a list for streamed answers)."""
    multicallable: Any = getattr(channel, SNAKE[kind])(f"/test.Echo/{kind}")
    request: Any = b"hi" if kind.startswith("Unary") else iter([b"hi"])
    answer = multicallable(request, metadata=metadata, timeout=5)
    if kind.endswith("Stream"):
        return [r async for r in answer]
    return await answer


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("metadata", [None, "Bearer wrong", f"Bearer {TOKEN}x", TOKEN, f"bearer  {TOKEN}"])
async def test_every_kind_of_call_without_the_credential_is_refused(
    served: tuple[int, CollectorRegistry], kind: str, metadata: str | None
) -> None:
    port, registry = served
    extra = [(internalauth.HEADER, metadata)] if metadata is not None else []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(channel, kind, extra)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "INTERNAL_TOKEN" in str(caught.value.details())
    assert ran == [], "the handler must not run"
    if kind == "UnaryUnary":  # the metrics interceptor times unary calls only
        labels = {"method": kind, "code": "UNAUTHENTICATED"}
        for _ in range(100):  # the server counts once its handler has returned, maybe after we heard
            if registry.get_sample_value("gempool_test_grpc_requests_total", labels) == 1:
                break
            await asyncio.sleep(0.01)
        assert registry.get_sample_value("gempool_test_grpc_requests_total", labels) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_the_credentialed_channel_passes_every_kind_of_call(
    served: tuple[int, CollectorRegistry], kind: str
) -> None:
    async with internalauth.channel(f"127.0.0.1:{served[0]}", TOKEN) as channel:
        answer = await call(channel, kind)
    assert answer in (b"hi", [b"hi"]) and len(ran) == 1


async def test_the_blocking_channel_carries_the_credential(served: tuple[int, CollectorRegistry]) -> None:
    def calls() -> tuple[bytes, list[bytes]]:
        with internalauth.sync_channel(f"127.0.0.1:{served[0]}", TOKEN) as channel:
            unary: Any = channel.unary_unary("/test.Echo/UnaryUnary")
            streamed: Any = channel.stream_stream("/test.Echo/StreamStream")
            return unary(b"hi", timeout=5), list(streamed(iter([b"a", b"b"]), timeout=5))

    assert await asyncio.to_thread(calls) == (b"hi", [b"a", b"b"])  # the server runs on this loop


async def test_health_answers_without_the_credential(served: tuple[int, CollectorRegistry]) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{served[0]}") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_the_bootstrap_will_not_listen_beyond_loopback_without_a_token() -> None:
    stopped = asyncio.Event()
    stopped.set()  # were it to serve, it would stop at once
    with pytest.raises(internalauth.InsecureBind, match="INTERNAL_TOKEN is empty"):
        await grpcserver.serve(
            name="open",
            host="0.0.0.0",
            port=0,
            metrics_port=-1,
            registry=CollectorRegistry(),
            register=register,
            grace=0.1,
            token="",
            stop=stopped,
        )


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("10.0.0.5", False),
        ("gempool-config", False),
    ],
)
def test_a_service_without_a_token_starts_on_loopback_only(host: str, allowed: bool) -> None:
    def settings(token: str = "") -> GrpcServiceSettings:
        return GrpcServiceSettings(_env_file=None, GRPC_HOST=host, INTERNAL_TOKEN=token)  # type: ignore[call-arg]

    assert settings("t").INTERNAL_TOKEN == "t"
    if allowed:
        settings()
        return
    with pytest.raises(ValidationError, match="INTERNAL_TOKEN is empty"):
        settings()


def test_local_runs_bind_loopback_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRPC_HOST", raising=False)
    assert GrpcServiceSettings(_env_file=None).GRPC_HOST == "127.0.0.1"  # type: ignore[call-arg]


@pytest.fixture
def no_token_in_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("INTERNAL_TOKEN", raising=False)
    yield


@pytest.mark.usefixtures("no_token_in_env")
def test_the_dev_stack_makes_a_secret_unless_it_is_given() -> None:
    made, other = Stack(env={}), Stack(env={})
    assert len(made.internal_token) >= 32 and made.internal_token != other.internal_token
    assert Stack(env={"INTERNAL_TOKEN": "from-dotenv"}).internal_token == "from-dotenv"


def test_the_dev_stack_gives_its_processes_loopback_and_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[dict[str, str]] = []

    def popen(_: list[str], *, env: dict[str, str], **__: Any) -> None:
        started.append(env)

    monkeypatch.setattr(subprocess, "Popen", popen)
    stack = Stack(env={"GRPC_HOST": "0.0.0.0"})
    stack.start(("config", "keypool"))
    assert [(e["GRPC_HOST"], e["INTERNAL_TOKEN"]) for e in started] == [
        ("127.0.0.1", stack.internal_token)
    ] * 2
