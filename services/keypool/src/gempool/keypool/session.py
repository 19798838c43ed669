"""The Session stream: leases and reports multiplexed over one long-lived gRPC stream.

A unary call per lease costs the gateway and the keypool a whole call setup each; one stream per
gateway process carries the same messages at about a third of the CPU. Requests are handled
concurrently (a slow Redis round trip does not hold up the others) and answered by id.

Under load most of what is left is the cost of a message itself, so requests that wait together
travel together: the server's first message (a hello, id 0) says it accepts batches, a client then
sends the requests queued behind a write as one batch, and answers ready together go back as one.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from gempool.api.keypool.v1 import keypool_pb2 as pb

from .storewatch import StoreUnavailable

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
    except StoreUnavailable as exc:  # told once by the store watch, not once per request
        return pb.SessionResponse(id=message.id, error=str(exc))
    except Exception as exc:  # one bad request must not end the stream for every other
        log.exception("session request failed")
        return pb.SessionResponse(id=message.id, error=f"{type(exc).__name__}: {exc}"[:300])


HELLO = pb.SessionResponse(id=0, accepts_batches=True)
# At most this many answers in one message.
MAX_BATCH = 64


async def serve_session(
    requests: AsyncIterator[pb.SessionRequest], lease: Lease, report: Report
) -> AsyncIterator[pb.SessionResponse]:
    answers: asyncio.Queue[pb.SessionResponse | None] = asyncio.Queue()
    running: set[asyncio.Task[None]] = set()
    client_batches = False

    async def handle(message: pb.SessionRequest) -> None:
        answers.put_nowait(await _answer(message, lease, report))

    def start(message: pb.SessionRequest) -> None:
        task = asyncio.create_task(handle(message))
        running.add(task)
        task.add_done_callback(running.discard)

    async def pump() -> None:
        nonlocal client_batches
        try:
            async for message in requests:
                if message.batch:
                    client_batches = True
                    for item in message.batch:
                        start(item)
                else:
                    start(message)
            await asyncio.gather(*running)
        finally:
            answers.put_nowait(None)

    pumper = asyncio.create_task(pump())
    try:
        yield HELLO
        while (answer := await answers.get()) is not None:
            if not client_batches or answers.empty():
                yield answer
                continue
            ready = [answer]
            while len(ready) < MAX_BATCH and not answers.empty():
                more = answers.get_nowait()
                if more is None:  # the end: send what is ready, then stop
                    answers.put_nowait(None)
                    break
                ready.append(more)
            yield ready[0] if len(ready) == 1 else pb.SessionResponse(batch=ready)
    finally:
        pumper.cancel()
        for task in list(running):
            task.cancel()
