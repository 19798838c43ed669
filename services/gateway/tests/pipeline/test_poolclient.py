"""The gateway's Session client against real gRPC servers: batches with a keypool that accepts
them, single messages with one that does not."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from gempool.api.keypool.v1 import keypool_pb2 as kp
from gempool.api.keypool.v1 import keypool_pb2_grpc
from gempool.gateway.pipeline.poolclient import PoolClient
from gempool.keypool.session import serve_session

from ..conftest import FakeKeyPool


class BatchingKeyPool(keypool_pb2_grpc.KeyPoolServiceServicer):
    """The keypool's own Session code over a trivial pool; counts the messages that arrive."""

    def __init__(self) -> None:
        self.messages: list[kp.SessionRequest] = []
        self.leased = 0

    async def _lease(self, request: kp.LeaseRequest) -> kp.LeaseResponse:
        self.leased += 1
        await asyncio.sleep(0)
        return kp.LeaseResponse(lease=kp.Lease(key_id=f"{request.model}-{self.leased}", api_key="k"))

    async def _report(self, request: kp.ReportRequest) -> kp.ReportResponse:
        return kp.ReportResponse(verdict=kp.VERDICT_SUCCESS, reason=request.key_id)

    async def Session(
        self, request_iterator: AsyncIterator[kp.SessionRequest], context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[kp.SessionResponse]:
        async def counted() -> AsyncIterator[kp.SessionRequest]:
            async for message in request_iterator:
                self.messages.append(message)
                yield message

        async for answer in serve_session(counted(), self._lease, self._report):
            yield answer


async def serve(servicer: keypool_pb2_grpc.KeyPoolServiceServicer) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    keypool_pb2_grpc.add_KeyPoolServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


@pytest.fixture
async def batching() -> AsyncIterator[tuple[BatchingKeyPool, PoolClient]]:
    pool = BatchingKeyPool()  # type: ignore[abstract]  # Session alone; the rest answer UNIMPLEMENTED
    server, port = await serve(pool)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        client = PoolClient(keypool_pb2_grpc.KeyPoolServiceStub(channel), streams=1)
        yield pool, client
        await client.close()
    await server.stop(None)


async def test_requests_waiting_together_travel_as_one_batch(
    batching: tuple[BatchingKeyPool, PoolClient],
) -> None:
    pool, client = batching
    await client.lease(kp.LeaseRequest(model="warm"), timeout=5)  # the hello arrives meanwhile
    pool.messages.clear()
    leases = [client.lease(kp.LeaseRequest(model=f"m{i}"), timeout=5) for i in range(150)]
    reports = [client.report(kp.ReportRequest(key_id=f"r{i}", http_status=200), timeout=5) for i in range(50)]
    leased, reported = await asyncio.gather(asyncio.gather(*leases), asyncio.gather(*reports))
    # Every caller gets its own answer...
    assert [a.lease.key_id.rsplit("-", 1)[0] for a in leased] == [f"m{i}" for i in range(150)]
    assert [a.reason for a in reported] == [f"r{i}" for i in range(50)]
    # ...and the 200 requests crossed the stream in a handful of messages.
    assert len(pool.messages) < 10
    assert sum(len(m.batch) or 1 for m in pool.messages) == 200


async def test_a_lone_request_goes_alone(batching: tuple[BatchingKeyPool, PoolClient]) -> None:
    pool, client = batching
    for i in range(3):
        answer = await client.lease(kp.LeaseRequest(model=f"one{i}"), timeout=5)
        assert answer.lease.key_id.startswith(f"one{i}-")
    assert [len(m.batch) for m in pool.messages] == [0, 0, 0]


async def test_a_keypool_without_batches_gets_single_messages() -> None:
    pool = FakeKeyPool(keys=["ok-1"])  # type: ignore[abstract]  # answers each message alone and sends no hello
    server, port = await serve(pool)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        client = PoolClient(keypool_pb2_grpc.KeyPoolServiceStub(channel), streams=1)
        answers = await asyncio.gather(
            *(client.lease(kp.LeaseRequest(model="m"), timeout=5) for _ in range(60))
        )
        await client.close()
    await server.stop(None)
    assert {a.lease.api_key for a in answers} == {"ok-1"} and len(pool.leases) == 60


async def test_requests_queued_behind_a_writer_that_gives_up_still_go_out(
    batching: tuple[BatchingKeyPool, PoolClient],
) -> None:
    _, client = batching
    await client.lease(kp.LeaseRequest(model="warm"), timeout=5)
    writer = asyncio.create_task(client.lease(kp.LeaseRequest(model="gives-up"), timeout=5))
    await asyncio.sleep(0)  # it is writing now
    queued = [asyncio.create_task(client.lease(kp.LeaseRequest(model=f"q{i}"), timeout=5)) for i in range(20)]
    await asyncio.sleep(0)
    writer.cancel()
    answers = await asyncio.gather(*queued)
    assert [a.lease.key_id.rsplit("-", 1)[0] for a in answers] == [f"q{i}" for i in range(20)]
    assert writer.cancelled()


class DyingReplica(keypool_pb2_grpc.KeyPoolServiceServicer):
    """Its Session stream is lost and the first unary Lease still reaches the dead replica (as
    round_robin does for a moment after a replica dies); the next reaches a live one."""

    def __init__(self) -> None:
        self.leases = 0

    async def Session(
        self, request_iterator: AsyncIterator[kp.SessionRequest], context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[kp.SessionResponse]:
        await context.abort(grpc.StatusCode.UNAVAILABLE, "connection reset")
        yield kp.SessionResponse()  # never reached: makes this an async generator

    async def Lease(
        self, request: kp.LeaseRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> kp.LeaseResponse:
        self.leases += 1
        if self.leases == 1:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "connection reset")
        return kp.LeaseResponse(lease=kp.Lease(key_id="k", api_key="ok-1"))


async def test_a_lease_lost_with_a_dying_replica_is_asked_again() -> None:
    pool = DyingReplica()  # type: ignore[abstract]  # Session and Lease; the rest answer UNIMPLEMENTED
    server, port = await serve(pool)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            client = PoolClient(keypool_pb2_grpc.KeyPoolServiceStub(channel), streams=1)
            try:
                answer = await client.lease(kp.LeaseRequest(model="m"), timeout=5)
            finally:
                await client.close()
    finally:
        await server.stop(None)
    assert answer.lease.api_key == "ok-1" and pool.leases == 2
