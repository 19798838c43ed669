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


async def test_unconfigured_remote_provider_keeps_the_image_locally_and_says_why(
    start_imagehost: Start, fake_config: tuple[FakeConfig, str]
) -> None:
    fake, addr = fake_config
    async with start_imagehost(CONFIG_ADDR=addr) as stub:
        await fake.snapshots.put({"UPLOAD_PROVIDER": "picgo"})
        for _ in range(100):
            if fake.errors:
                break
            up = await stub.Upload(imagehost_pb2.UploadRequest(data=b"GIF89a", mime_type="image/gif"))
            assert up.provider == "local" and up.url.startswith("https://gw.example/images/")
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("picgo was never selected")
    record = fake.errors[0]
    assert record.error_code == "IMAGE_UPLOAD_FAILED:picgo"
    assert "PICGO_API_KEY is empty" in record.message and "local" in record.message
