"""The Session stream: leases and reports multiplexed over one long-lived gRPC stream.

A unary call per lease costs the gateway and the keypool a whole call setup each; one stream per
gateway process carries the same messages at about a third of the CPU. Requests are handled
concurrently (a slow Redis round trip does not hold up the others) and answered by id.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from gempool.api.keypool.v1 import keypool_pb2 as pb

log = logging.getLogger(__name__)

Lease = Callable[[pb.LeaseRequest], Awaitable[pb.LeaseResponse]]
Report = Callable[[pb.ReportRequest], Awaitable[pb.ReportResponse]]


async def _answer(message: pb.SessionRequest, lease: Lease, report: Report) -> pb.SessionResponse:
    try:
        if message.HasField("lease"):
            return pb.SessionResponse(id=message.id, lease=await lease(message.lease))
        if message.HasField("report"):
            return pb.SessionResponse(id=message.id, report=await report(message.report))
        return pb.SessionResponse(id=message.id, error="empty session request")
    except Exception as exc:  # one bad request must not end the stream for every other
        log.exception("session request failed")
        return pb.SessionResponse(id=message.id, error=f"{type(exc).__name__}: {exc}"[:300])


async def serve_session(
    requests: AsyncIterator[pb.SessionRequest], lease: Lease, report: Report
) -> AsyncIterator[pb.SessionResponse]:
    answers: asyncio.Queue[pb.SessionResponse | None] = asyncio.Queue()
    running: set[asyncio.Task[None]] = set()

    async def handle(message: pb.SessionRequest) -> None:
        answers.put_nowait(await _answer(message, lease, report))

    async def pump() -> None:
        try:
            async for message in requests:
                task = asyncio.create_task(handle(message))
                running.add(task)
                task.add_done_callback(running.discard)
            await asyncio.gather(*running)
        finally:
            answers.put_nowait(None)

    pumper = asyncio.create_task(pump())
    try:
        while (answer := await answers.get()) is not None:
            yield answer
    finally:
        pumper.cancel()
        for task in list(running):
            task.cancel()
