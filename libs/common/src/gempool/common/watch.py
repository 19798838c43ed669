"""Follow the config service's settings: one snapshot at start, then every change, forever."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

import grpc

from gempool.api.config.v1 import config_pb2, config_pb2_grpc

log = logging.getLogger(__name__)

OnSnapshot = Callable[[config_pb2.SettingsSnapshot], Awaitable[None]]


async def follow_settings(
    channel: grpc.aio.Channel,
    on_snapshot: OnSnapshot,
    *,
    first: asyncio.Event | None = None,
    backoff_max: float = 5.0,
) -> None:
    """Call ``on_snapshot`` for every snapshot the config service pushes; reconnect on failure.

    ``first`` is set after the first snapshot has been applied, so a service can wait for its
    settings before it reports SERVING. Runs until cancelled.
    """
    stub = config_pb2_grpc.ConfigServiceStub(channel)
    delay = 0.1
    while True:
        try:
            stream = stub.Watch(config_pb2.WatchRequest())
            async for message in stream:
                await on_snapshot(message.snapshot)
                delay = 0.1
                if first is not None:
                    first.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if _being_cancelled():  # gRPC reports a cancel of this task as a CANCELLED call
                raise asyncio.CancelledError from exc
            if isinstance(exc, grpc.aio.AioRpcError):
                log.warning("settings watch lost", extra={"code": exc.code().name, "retry_in": delay})
            else:
                log.exception("settings watch failed", extra={"retry_in": delay})
        await asyncio.sleep(delay)
        delay = min(delay * 2, backoff_max)


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
