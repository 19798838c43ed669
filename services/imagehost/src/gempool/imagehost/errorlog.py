"""Failed uploads in the error log the admin panel shows, beside the upstream errors.

Best effort: a record is written in the background and dropped if the config service does not take
it within a few seconds; the warning log line and the fallback metric carry the fact regardless.
"""

import asyncio
import logging
import time
import uuid

import grpc

from gempool.api.config.v1 import config_pb2, config_pb2_grpc
from gempool.common.tasks import stop_tasks

log = logging.getLogger(__name__)

WRITE_TIMEOUT = 5.0
MAX_PENDING = 100  # writes under way at once; more are dropped (the config service is away)


class UploadErrors:
    def __init__(self, stub: "config_pb2_grpc.ConfigServiceAsyncStub") -> None:
        self._stub = stub
        self._pending: set[asyncio.Task[None]] = set()

    def report(self, provider: str, message: str) -> None:
        if len(self._pending) >= MAX_PENDING:
            return
        record = config_pb2.ErrorLog(
            at_unix=time.time(),
            model="image-upload",
            status=502,
            error_code=f"IMAGE_UPLOAD_FAILED:{provider}",
            message=f"{provider}: {message[:1900]} (the image was kept with the local provider)",
        )
        task = asyncio.create_task(self._write(record))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _write(self, record: config_pb2.ErrorLog) -> None:
        batch = config_pb2.WriteLogsRequest(errors=[record], batch_id=f"imagehost-{uuid.uuid4().hex}")
        try:
            await self._stub.WriteLogs(batch, timeout=WRITE_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            log.debug("upload error not written to the error log", extra={"code": exc.code().name})

    async def close(self) -> None:
        await stop_tasks(*self._pending)
