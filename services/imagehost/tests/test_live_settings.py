"""The service follows UPLOAD_PROVIDER from a (fake, in-process) config service."""

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeAlias

import grpc
import httpx
import pytest

from gempool.api.config.v1 import config_pb2, config_pb2_grpc
from gempool.api.imagehost.v1 import imagehost_pb2, imagehost_pb2_grpc

Stub: TypeAlias = "imagehost_pb2_grpc.ImageHostServiceAsyncStub"  # what the stub is on an aio channel
Start = Callable[..., AbstractAsyncContextManager[Stub]]


class FakeConfig(config_pb2_grpc.ConfigServiceServicer):
    """Sends one snapshot per queued settings map, then holds the stream open."""

    def __init__(self) -> None:
        self.snapshots: asyncio.Queue[dict[str, object]] = asyncio.Queue()

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
    fake = FakeConfig()  # type: ignore[abstract]  # only Watch is needed
    config_pb2_grpc.add_ConfigServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield fake, f"127.0.0.1:{port}"
    finally:
        await server.stop(0)


async def wait_for_provider(stub: Stub, provider: str) -> imagehost_pb2.UploadResponse:
    for _ in range(100):
        up = await stub.Upload(imagehost_pb2.UploadRequest(data=b"GIF89a", mime_type="image/gif"))
        if up.provider == provider:
            return up
        await asyncio.sleep(0.05)
    raise AssertionError(f"provider never became {provider!r}")


async def test_upload_provider_changes_live(
    start_imagehost: Start, fake_config: tuple[FakeConfig, str]
) -> None:
    fake, addr = fake_config
    seen: list[httpx.Request] = []

    def smms(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"success": True, "data": {"url": "https://s.ee/a.gif"}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(smms)) as client:
        async with start_imagehost(client=client, CONFIG_ADDR=addr) as stub:
            assert (await wait_for_provider(stub, "local")).url.startswith("https://gw.example/images/")
            await fake.snapshots.put({"UPLOAD_PROVIDER": "smms", "SMMS_SECRET_TOKEN": "tok"})
            assert (await wait_for_provider(stub, "smms")).url == "https://s.ee/a.gif"
            assert seen[-1].headers["authorization"] == "Basic tok"
            await fake.snapshots.put({"UPLOAD_PROVIDER": "local"})
            await wait_for_provider(stub, "local")


async def test_unconfigured_remote_provider_is_failed_precondition(
    start_imagehost: Start, fake_config: tuple[FakeConfig, str]
) -> None:
    fake, addr = fake_config
    async with start_imagehost(CONFIG_ADDR=addr) as stub:
        await fake.snapshots.put({"UPLOAD_PROVIDER": "picgo"})
        for _ in range(100):
            try:
                await stub.Upload(imagehost_pb2.UploadRequest(data=b"GIF89a", mime_type="image/gif"))
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION
                assert "PICGO_API_KEY" in (exc.details() or "")
                return
            await asyncio.sleep(0.05)
    raise AssertionError("picgo was never selected")
