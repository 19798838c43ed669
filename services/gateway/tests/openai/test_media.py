"""Image URLs from clients: fetched with limits, never into the gateway's own network by default."""

import asyncio
import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send

from gempool.common.live import LiveSettings
from gempool.fakegemini.server import Running
from gempool.gateway.openai import media
from gempool.gateway.openai.chat import BadRequest
from gempool.gateway.openai.media import FETCH_LIMIT, fetch, fetch_all
from gempool.gateway.runtime import Live, Runtime

from ..conftest import FakeKeyPool
from ..gateway_app import TOKEN, gateway_client
from ..serving import serving


async def test_private_addresses_are_refused(runtime: Runtime, upstream: Running) -> None:
    for url in (
        f"{upstream.url}/cat.png",
        "http://localhost:1/cat.png",
        "http://[::1]:1/x",
        "http://10.1.2.3/x",
    ):
        with pytest.raises(BadRequest, match="private address"):
            await fetch(runtime, url)
    assert not upstream.fake.calls, "nothing was fetched"


async def test_an_admin_may_allow_private_addresses(runtime: Runtime, upstream: Running) -> None:
    settings = runtime.live.settings.model_copy(update={"IMAGE_URL_PRIVATE_ALLOWED": True})  # type: ignore[union-attr]
    runtime.live = Live.build(LiveSettings.model_validate(settings.model_dump()))
    with pytest.raises(BadRequest, match="HTTP 404"):
        await fetch(runtime, f"{upstream.url}/cat.png")


async def test_only_http_urls(runtime: Runtime) -> None:
    with pytest.raises(BadRequest, match="http"):
        await fetch(runtime, "file:///etc/passwd")


# ---- what one request may make the gateway fetch (a real server on 127.0.0.1)

MIB = 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n"


@dataclass
class ImageServer:
    url: str
    requests: list[str] = field(default_factory=list)


async def _images(scope: Scope, send: Send) -> None:
    """``/img/{n}`` streams an n-byte PNG-looking body (no length); ``/stall`` sends nothing after its
    headers; ``/trickle`` one byte every 0.2 s."""
    path: str = scope["path"]
    scope["state"]["requests"].append(path)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"image/png")]})
    if path.startswith("/img/"):
        size = int(path.removeprefix("/img/"))
        body = PNG + b"\0" * (size - len(PNG))
        for start in range(0, size, MIB):
            await send({"type": "http.response.body", "body": body[start : start + MIB], "more_body": True})
    elif path == "/stall":
        await asyncio.sleep(3600)
    elif path == "/trickle":
        for _ in range(3000):
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
            await asyncio.sleep(0.2)
    await send({"type": "http.response.body", "body": b""})


@pytest.fixture
def images() -> Iterator[ImageServer]:
    requests: list[str] = []

    async def app(scope: Scope, _receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await _images({**scope, "state": {"requests": requests}}, send)

    with serving(app) as port:
        yield ImageServer(f"http://127.0.0.1:{port}", requests)


@pytest.fixture
def local(runtime: Runtime) -> Runtime:
    """The runtime, allowed to fetch from 127.0.0.1 (where the test's image server is)."""
    assert runtime.live is not None
    runtime.live = Live.build(runtime.live.settings.model_copy(update={"IMAGE_URL_PRIVATE_ALLOWED": True}))
    return runtime


def with_settings(rt: Runtime, **changes: Any) -> None:
    assert rt.live is not None
    rt.live = Live.build(LiveSettings.model_validate(rt.live.settings.model_dump() | changes))


async def test_an_image_of_20_mib_is_fetched_and_one_byte_more_is_refused(
    local: Runtime, images: ImageServer
) -> None:
    assert FETCH_LIMIT == 20 * MIB  # the documented limit
    blob = await fetch(local, f"{images.url}/img/{20 * MIB}")
    assert blob.mime_type == "image/png" and len(base64.b64decode(blob.data)) == 20 * MIB
    with pytest.raises(BadRequest, match="larger than 20 MiB"):
        await fetch(local, f"{images.url}/img/{20 * MIB + 1}")
    with_settings(local, IMAGE_URL_MAX_TOTAL_BYTES=64 * MIB)  # a larger budget: each image still 20 MiB
    with pytest.raises(BadRequest, match="larger than 20 MiB"):
        await fetch_all(local, [f"{images.url}/img/{20 * MIB + 1}"])


@pytest.mark.parametrize("path", ["/stall", "/trickle"])
async def test_a_slow_image_is_given_up_after_the_fetch_timeout(
    local: Runtime, images: ImageServer, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """The 20 s bound covers the whole fetch, a body that trickles included (shortened to 0.5 s here)."""
    assert media.FETCH_TIMEOUT == 20.0  # the documented limit
    monkeypatch.setattr(media, "FETCH_TIMEOUT", 0.5)
    started = time.monotonic()
    async with asyncio.timeout(10):
        with pytest.raises(BadRequest, match="TimeoutError"):
            await fetch(local, f"{images.url}{path}")
    assert time.monotonic() - started < 3


async def test_a_request_pointing_at_too_many_images_fetches_none(
    local: Runtime, images: ImageServer
) -> None:
    urls = [f"{images.url}/img/{1000 + n}" for n in range(11)]
    with pytest.raises(BadRequest, match="11 image URLs; at most 10"):
        await fetch_all(local, urls)
    assert images.requests == []
    assert len(await fetch_all(local, urls[:10])) == 10


async def test_the_images_of_one_request_share_one_byte_budget(local: Runtime, images: ImageServer) -> None:
    with_settings(local, IMAGE_URL_MAX_TOTAL_BYTES=5 * MIB)
    two = [f"{images.url}/img/{2 * MIB + n}" for n in range(2)]
    assert len(await fetch_all(local, two)) == 2  # 4 MiB: within
    three = [f"{images.url}/img/{2 * MIB + n}" for n in range(3)]
    with pytest.raises(BadRequest, match="IMAGE_URL_MAX_TOTAL_BYTES"):
        await fetch_all(local, three)  # 6 MiB: each within 20 MiB, together over 5 MiB


async def test_a_chat_request_with_too_many_image_urls_gets_openai_400(
    fake_pool: tuple[FakeKeyPool, int], upstream: Running, images: ImageServer
) -> None:
    content = [{"type": "text", "text": "what is this?"}] + [
        {"type": "image_url", "image_url": {"url": f"{images.url}/img/{1000 + n}"}} for n in range(3)
    ]
    body = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": content}]}
    settings = {"IMAGE_URL_PRIVATE_ALLOWED": True, "IMAGE_URL_MAX_COUNT": 2}
    async with gateway_client(fake_pool, upstream, ["ok-1"], **settings) as gw:
        response = await gw.post(
            "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {TOKEN}"}
        )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and "IMAGE_URL_MAX_COUNT" in error["message"]
    assert images.requests == [] and upstream.fake.calls == []
