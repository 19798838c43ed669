import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, TypeAlias

import grpc
import httpx
import pytest
from prometheus_client import CollectorRegistry

from gempool.api.config.v1 import config_pb2, config_pb2_grpc
from gempool.api.imagehost.v1 import imagehost_pb2_grpc
from gempool.imagehost.server import serve
from gempool.imagehost.settings import ImageHostSettings

# Nothing listens here: the service must work without the config service.
UNREACHABLE = "127.0.0.1:9"


def make_settings(tmp_path: Path, **overrides: Any) -> ImageHostSettings:
    values: dict[str, Any] = {
        "GRPC_HOST": "127.0.0.1",
        "IMAGEHOST_PORT": 0,
        "IMAGEHOST_METRICS_PORT": -1,
        "CONFIG_ADDR": UNREACHABLE,
        "IMAGEHOST_DIR": tmp_path / "images",
        "PUBLIC_BASE_URL": "https://gw.example",
        "SHUTDOWN_GRACE_SECONDS": 0.1,
    } | overrides
    return ImageHostSettings(_env_file=None, **values)  # type: ignore[call-arg]


Stub: TypeAlias = "imagehost_pb2_grpc.ImageHostServiceAsyncStub"  # what the stub is on an aio channel
Started = AbstractAsyncContextManager[Stub]


@pytest.fixture
def start_imagehost(tmp_path: Path) -> Callable[..., Started]:
    """Start a real imagehost on port 0; yields a stub connected to it."""

    @asynccontextmanager
    async def start(
        client: httpx.AsyncClient | None = None,
        registry: CollectorRegistry | None = None,
        **overrides: Any,
    ) -> AsyncIterator[Stub]:
        stop = asyncio.Event()
        port: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(
            serve(
                make_settings(tmp_path, **overrides),
                registry=registry,
                client=client,
                stop=stop,
                ready=port.set_result,
            )
        )
        try:
            bound = await asyncio.wait_for(asyncio.shield(port), 10)
            async with grpc.aio.insecure_channel(f"127.0.0.1:{bound}") as channel:
                yield imagehost_pb2_grpc.ImageHostServiceStub(channel)
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)

    return start


@pytest.fixture
async def stub(
    start_imagehost: Callable[..., Started],
) -> AsyncIterator[Stub]:
    async with start_imagehost() as connected:
        yield connected


class FakeConfig(config_pb2_grpc.ConfigServiceServicer):
    """Sends one snapshot per queued settings map, then holds the stream open."""

    def __init__(self) -> None:
        self.snapshots: asyncio.Queue[dict[str, object]] = asyncio.Queue()
        self.errors: list[config_pb2.ErrorLog] = []

    async def WriteLogs(
        self, request: config_pb2.WriteLogsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> config_pb2.WriteLogsResponse:
        self.errors.extend(request.errors)
        return config_pb2.WriteLogsResponse(stored=len(request.errors))

    async def Watch(
        self, request: config_pb2.WatchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[config_pb2.WatchResponse]:
        revision = 0
        while True:
            values = await self.snapshots.get()
            revision += 1
            wire = {k: json.dumps(v) for k, v in values.items()}
            yield config_pb2.WatchResponse(
                snapshot=config_pb2.SettingsSnapshot(values=wire, revision=revision)
            )


@pytest.fixture
async def fake_config() -> AsyncIterator[tuple[FakeConfig, str]]:
    server = grpc.aio.server()
    fake = FakeConfig()  # type: ignore[abstract]  # only Watch and WriteLogs are needed
    config_pb2_grpc.add_ConfigServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield fake, f"127.0.0.1:{port}"
    finally:
        await server.stop(0)
