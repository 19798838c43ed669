"""Stopping background tasks, including ones that treat a cancel as an error and go on."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc

from gempool.api.config.v1 import config_pb2, config_pb2_grpc
from gempool.common.tasks import stop_tasks
from gempool.common.watch import follow_settings


async def test_a_task_that_swallows_a_cancel_is_cancelled_again() -> None:
    cancels = 0

    async def stubborn() -> None:
        nonlocal cancels
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancels += 1
                if cancels == 1:
                    continue  # as a retry loop does when a cancel comes back as an error
                raise

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await stop_tasks(task, None, patience=0.05)
    assert task.cancelled() and cancels == 2


async def test_the_callers_own_cancel_is_not_swallowed() -> None:
    async def stopper(inner: "asyncio.Task[None]") -> None:
        await stop_tasks(inner, patience=10)

    released = asyncio.Event()

    async def deaf() -> None:
        while not released.is_set():
            try:
                await released.wait()
            except asyncio.CancelledError:
                continue

    inner = asyncio.create_task(deaf())
    outer = asyncio.create_task(stopper(inner))
    await asyncio.sleep(0.01)
    outer.cancel()
    done, _ = await asyncio.wait({outer}, timeout=1)
    assert outer in done and outer.cancelled()
    released.set()
    await inner


class OneSnapshot(config_pb2_grpc.ConfigServiceServicer):
    async def Watch(
        self, request: config_pb2.WatchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[config_pb2.WatchResponse]:
        yield config_pb2.WatchResponse(snapshot=config_pb2.SettingsSnapshot(revision=1))
        await asyncio.Event().wait()


async def test_follow_settings_ends_when_a_cancel_comes_back_as_an_error() -> None:
    server = grpc.aio.server()
    servicer = OneSnapshot()  # type: ignore[abstract]  # only Watch is needed; the rest answer UNIMPLEMENTED
    config_pb2_grpc.add_ConfigServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    started = asyncio.Event()

    async def reload(_: object) -> None:
        started.set()
        try:
            await asyncio.sleep(10)  # a reload in flight, as the keypool's ListKeys paging
        except asyncio.CancelledError:
            raise RuntimeError("call CANCELLED") from None  # what a gRPC call may report instead

    task = asyncio.create_task(follow_settings(channel, reload, backoff_max=0.01))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert task in done and task.cancelled(), "the watch must end, not reconnect"
    await channel.close()
    await server.stop(None)
