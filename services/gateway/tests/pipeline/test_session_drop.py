"""A dropped keypool session or connection is never a client error while the keypool is healthy:
the lease lost with it is asked again, on a unary call that waits for the connection to return."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from prometheus_client import CollectorRegistry

from gempool.api.keypool.v1 import keypool_pb2 as kp
from gempool.api.keypool.v1 import keypool_pb2_grpc
from gempool.common.grpcserver import KEEPALIVE_ACCEPTED
from gempool.fakegemini.server import Running
from gempool.gateway.metrics import GatewayMetrics
from gempool.gateway.pipeline.poolclient import PoolClient
from gempool.gateway.runtime import Runtime
from gempool.gateway.settings import GatewaySettings

from ..conftest import FakeKeyPool
from ..gateway_app import TOKEN, gateway_client

HELLO = {"contents": [{"parts": [{"text": "hi"}]}]}


@dataclass
class DropsSessions(FakeKeyPool):
    """Aborts every Session stream on its first lease, as a stream cut under load ends."""

    dropped: int = 0

    async def Session(
        self, request_iterator: AsyncIterator[kp.SessionRequest], context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[kp.SessionResponse]:
        async for message in request_iterator:
            if message.HasField("lease"):
                self.dropped += 1
                await context.abort(grpc.StatusCode.UNAVAILABLE, "the session was cut")
            yield kp.SessionResponse(id=message.id, report=await self.Report(message.report, context))


async def serve(pool: FakeKeyPool, port: int = 0) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server(options=KEEPALIVE_ACCEPTED)
    keypool_pb2_grpc.add_KeyPoolServiceServicer_to_server(pool, server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return server, bound


@pytest.mark.parametrize("stream", [False, True])
async def test_a_request_whose_session_drops_mid_lease_gets_its_answer(
    upstream: Running, stream: bool
) -> None:
    pool = DropsSessions(keys=["ok-1"])  # type: ignore[abstract]  # no admin RPCs: UNIMPLEMENTED
    server, port = await serve(pool)
    try:
        async with gateway_client((pool, port), upstream, ["ok-1"]) as gw:
            method = "streamGenerateContent?alt=sse" if stream else "generateContent"
            headers = {"x-goog-api-key": TOKEN}
            replies = [
                await gw.post(f"/v1beta/models/gemini-2.5-flash:{method}", json=HELLO, headers=headers)
                for _ in range(3)
            ]
    finally:
        await server.stop(None)
    assert [r.status_code for r in replies] == [200] * 3, replies[-1].text
    assert pool.dropped >= 3 and len(pool.leases) == 3  # each lease was cut, then asked again once


async def test_a_lease_waits_for_a_keypool_whose_connection_dropped() -> None:
    pool = FakeKeyPool(keys=["ok-1"])  # type: ignore[abstract]
    server, port = await serve(pool)
    options = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 200)]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        client = PoolClient(keypool_pb2_grpc.KeyPoolServiceStub(channel), streams=1)
        assert (await client.lease(kp.LeaseRequest(model="m"), timeout=5)).lease.api_key == "ok-1"
        await server.stop(None)  # the connection and the session with it are gone ...

        async def restart() -> grpc.aio.Server:
            await asyncio.sleep(0.15)  # ... and the keypool is back a moment later
            return (await serve(pool, port))[0]

        back = asyncio.create_task(restart())
        answer = await client.lease(kp.LeaseRequest(model="m"), timeout=5)
        await client.close()
    await (await back).stop(None)
    assert answer.lease.api_key == "ok-1" and len(pool.leases) == 2


async def test_keypool_streams_spread_over_the_keypool_replicas() -> None:
    # A headless Service resolves to every replica; "ipv4:a,b" is such a name with two addresses.
    replicas = [FakeKeyPool(keys=[f"ok-{i}"]) for i in range(2)]  # type: ignore[abstract]
    servers = [await serve(pool) for pool in replicas]
    addr = "ipv4:" + ",".join(f"127.0.0.1:{port}" for _, port in servers)
    settings = GatewaySettings(
        KEYPOOL_ADDR=addr, CONFIG_ADDR="127.0.0.1:1", IMAGEHOST_ADDR="127.0.0.1:1", KEYPOOL_STREAMS=2
    )
    rt = Runtime(settings, GatewayMetrics(CollectorRegistry()))
    await rt.open()
    try:
        async with asyncio.timeout(5):  # until the channel is connected to both replicas
            while not all(pool.leases for pool in replicas):
                await rt.keypool.Lease(kp.LeaseRequest(model="warm-up"), wait_for_ready=True)
        answers = [await rt.pool.lease(kp.LeaseRequest(model="m"), timeout=5) for _ in range(20)]
    finally:
        await rt.close()
        for server, _ in servers:
            await server.stop(None)
    assert Counter(a.lease.api_key for a in answers) == {"ok-0": 10, "ok-1": 10}


async def test_a_new_runtime_never_inherits_a_dead_keypools_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The flaky 503 of issue 15: a fake keypool of an earlier test had the same port; gRPC shared
    # that dead server's failing connection with the next runtime, whose session and unary call
    # both failed at once.
    pool = FakeKeyPool(keys=["ok-1"])  # type: ignore[abstract]
    earlier, port = await serve(pool)
    settings = GatewaySettings(
        KEYPOOL_ADDR=f"127.0.0.1:{port}", CONFIG_ADDR="127.0.0.1:1", IMAGEHOST_ADDR="127.0.0.1:1"
    )
    before = Runtime(settings, GatewayMetrics(CollectorRegistry()))
    await before.open()
    await before.pool.lease(kp.LeaseRequest(model="m"), timeout=5)
    await before.close()
    await earlier.stop(None)
    await asyncio.sleep(0.05)  # the old connection is refused meanwhile, and backs off
    later, _ = await serve(pool, port)
    after = Runtime(settings, GatewayMetrics(CollectorRegistry()))
    await after.open()
    try:
        answer = await after.pool.lease(kp.LeaseRequest(model="m"), timeout=5)
    finally:
        await after.close()
        await later.stop(None)
    assert answer.lease.api_key == "ok-1"
    assert "keypool session lost" not in caplog.messages  # a connection of its own, at once
