"""ImageHostService over a real in-process gRPC server (config service unreachable)."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TypeAlias

import grpc
import pytest
from prometheus_client import CollectorRegistry

from gempool.api.imagehost.v1 import imagehost_pb2, imagehost_pb2_grpc
from gempool.imagehost.media import MAX_UPLOAD_BYTES

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
Stub: TypeAlias = "imagehost_pb2_grpc.ImageHostServiceAsyncStub"  # what the stub is on an aio channel
Start = Callable[..., AbstractAsyncContextManager[Stub]]


async def upload(stub: Stub, data: bytes = PNG, mime: str = "image/png") -> imagehost_pb2.UploadResponse:
    return await stub.Upload(imagehost_pb2.UploadRequest(data=data, mime_type=mime, filename="x.png"))


async def code_of(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call  # type: ignore[misc]
    return err.value.code()


async def test_upload_then_fetch_returns_the_same_bytes(stub: Stub) -> None:
    up = await upload(stub)
    assert up.provider == "local"
    prefix = "https://gw.example/images/"
    assert up.url.startswith(prefix) and up.url.endswith(".png")
    name = up.url.removeprefix(prefix)
    got = await stub.Fetch(imagehost_pb2.FetchRequest(name=name))
    assert (got.data, got.mime_type) == (PNG, "image/png")


async def test_names_are_random_and_follow_the_mime_type(stub: Stub) -> None:
    first = (await upload(stub, mime="audio/wav")).url
    second = (await upload(stub, mime="audio/wav")).url
    assert first != second
    assert first.endswith(".wav")
    assert len(first.rsplit("/", 1)[1]) >= 32 + len(".wav")
    jpeg = (await upload(stub, mime="image/JPEG; charset=binary")).url
    assert jpeg.endswith(".jpg")


async def test_empty_public_base_url_returns_a_path(start_imagehost: Start, tmp_path: Path) -> None:
    async with start_imagehost(PUBLIC_BASE_URL="") as stub:
        url = (await upload(stub)).url
    assert url.startswith("/images/")
    assert (tmp_path / "images" / url.removeprefix("/images/")).read_bytes() == PNG


@pytest.mark.parametrize("mime", ["text/html", "application/octet-stream", "image/svg+xml", "", "image"])
async def test_a_type_that_is_not_image_or_audio_is_refused(stub: Stub, mime: str, tmp_path: Path) -> None:
    assert await code_of(upload(stub, mime=mime)) == grpc.StatusCode.INVALID_ARGUMENT
    assert list((tmp_path / "images").iterdir()) == []


async def test_empty_and_oversized_uploads_are_refused(stub: Stub) -> None:
    assert await code_of(upload(stub, data=b"")) == grpc.StatusCode.INVALID_ARGUMENT
    too_big = b"\x00" * (MAX_UPLOAD_BYTES + 1)
    assert await code_of(upload(stub, data=too_big)) == grpc.StatusCode.INVALID_ARGUMENT
    assert (await upload(stub, data=too_big[:-1])).url


@pytest.mark.parametrize(
    "name",
    [
        "../secret.png",
        "..%2Fsecret.png",
        "/etc/passwd",
        "sub/" + "a" * 32 + ".png",
        "a" * 32 + ".png/../../secret.png",
        "..",
        "",
    ],
)
async def test_path_traversal_is_refused(stub: Stub, name: str, tmp_path: Path) -> None:
    (tmp_path / "secret.png").write_bytes(b"secret")
    assert (
        await code_of(stub.Fetch(imagehost_pb2.FetchRequest(name=name))) == grpc.StatusCode.INVALID_ARGUMENT
    )


async def test_unknown_name_is_not_found(stub: Stub) -> None:
    name = "A" * 32 + ".png"
    assert await code_of(stub.Fetch(imagehost_pb2.FetchRequest(name=name))) == grpc.StatusCode.NOT_FOUND


async def test_uploads_are_counted_by_provider_and_result(start_imagehost: Start) -> None:
    registry = CollectorRegistry()
    async with start_imagehost(registry=registry) as stub:
        await upload(stub)
        await code_of(upload(stub, mime="text/plain"))

    def count(result: str) -> float | None:
        labels = {"provider": "local", "result": result}
        return registry.get_sample_value("gempool_imagehost_uploads_total", labels)

    assert (count("ok"), count("invalid")) == (1.0, 1.0)
    assert registry.get_sample_value("gempool_imagehost_stored_bytes_total", {"provider": "local"}) == len(
        PNG
    )
    rpcs = {"method": "Upload", "code": "OK"}
    assert registry.get_sample_value("gempool_imagehost_grpc_requests_total", rpcs) == 1.0
