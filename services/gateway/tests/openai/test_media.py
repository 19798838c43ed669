"""Image URLs from clients: fetched with limits, never into the gateway's own network by default."""

import pytest

from gempool.common.live import LiveSettings
from gempool.fakegemini.server import Running
from gempool.gateway.openai.chat import BadRequest
from gempool.gateway.openai.media import fetch
from gempool.gateway.runtime import Live, Runtime


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
