import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, TypeAlias

import grpc
import httpx
import pytest
from prometheus_client import CollectorRegistry

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
