"""The service follows UPLOAD_PROVIDER from a (fake, in-process) config service."""

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TypeAlias

import httpx
import pytest
from prometheus_client import CollectorRegistry

from gempool.api.imagehost.v1 import imagehost_pb2, imagehost_pb2_grpc

from .conftest import FakeConfig

Stub: TypeAlias = "imagehost_pb2_grpc.ImageHostServiceAsyncStub"  # what the stub is on an aio channel
Start = Callable[..., AbstractAsyncContextManager[Stub]]


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


async def test_a_failing_host_is_retried_then_the_image_is_kept_locally(
    start_imagehost: Start, fake_config: tuple[FakeConfig, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gempool.imagehost.service.RETRY_DELAY", 0.01)
    fake, addr = fake_config
    calls: list[httpx.Request] = []

    def down(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503, json={"success": False, "message": "maintenance"})

    registry = CollectorRegistry()
    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as client:
        async with start_imagehost(client=client, registry=registry, CONFIG_ADDR=addr) as stub:
            await fake.snapshots.put(
                {"UPLOAD_PROVIDER": "smms", "SMMS_SECRET_TOKEN": "t", "UPLOAD_RETRIES": 2}
            )
            while not calls:
                up = await stub.Upload(imagehost_pb2.UploadRequest(data=b"GIF89a", mime_type="image/gif"))
                await asyncio.sleep(0.02)
            assert len(calls) == 3  # one try and UPLOAD_RETRIES more
            assert up.provider == "local"
            name = up.url.rsplit("/", 1)[1]
            kept = await stub.Fetch(imagehost_pb2.FetchRequest(name=name))
            assert kept.data == b"GIF89a"
    sample = registry.get_sample_value
    assert sample("gempool_imagehost_fallbacks_total", {"provider": "smms"}) == 1
    assert sample("gempool_imagehost_upload_retries_total", {"provider": "smms"}) == 2
    assert "503" in fake.errors[0].message and "maintenance" in fake.errors[0].message


async def test_a_refusal_is_not_retried(start_imagehost: Start, fake_config: tuple[FakeConfig, str]) -> None:
    fake, addr = fake_config
    calls: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"success": False, "code": "unauthorized", "message": "bad token"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        async with start_imagehost(client=client, CONFIG_ADDR=addr) as stub:
            await fake.snapshots.put({"UPLOAD_PROVIDER": "smms", "SMMS_SECRET_TOKEN": "t"})
            while not calls:
                up = await stub.Upload(imagehost_pb2.UploadRequest(data=b"GIF89a", mime_type="image/gif"))
                await asyncio.sleep(0.02)
    assert len(calls) == 1 and up.provider == "local"
