"""Outcomes that need no answer (successes, ends of streams) go to the keypool in batches.

A failure still reports on its own and waits, because the verdict decides the retry; everything
else rides in one ``ReportBatch`` call every few milliseconds, off the request's path.
"""

import asyncio
import contextlib
import logging

import grpc

from gempool.api.keypool.v1 import keypool_pb2 as kp
from gempool.api.keypool.v1 import keypool_pb2_grpc
from gempool.common.tasks import stop_tasks

log = logging.getLogger(__name__)


class Reporter:
    def __init__(
        self,
        stub: "keypool_pb2_grpc.KeyPoolServiceAsyncStub",
        *,
        interval: float = 0.02,
        max_batch: int = 512,
    ) -> None:
        self._stub = stub
        self._interval = interval
        self._max_batch = max_batch
        self._queue: list[kp.ReportRequest] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def add(self, report: kp.ReportRequest) -> None:
        self._queue.append(report)
        if len(self._queue) >= self._max_batch:
            self._wake.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            try:
                await self._stub.ReportBatch(kp.ReportBatchRequest(reports=batch), timeout=5)
            except grpc.aio.AioRpcError as exc:
                # Losing a few success counts is harmless; never let the queue grow without bound.
                self.dropped += len(batch)
                log.warning(
                    "keypool batch report failed", extra={"code": exc.code().name, "reports": len(batch)}
                )
                return

    async def close(self) -> None:
        await stop_tasks(self._task)
        await self.flush()
