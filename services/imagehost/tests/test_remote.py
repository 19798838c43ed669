"""Remote hosts, faked with httpx.MockTransport."""

from collections.abc import Callable

import httpx
import pytest

from gempool.common.live import LiveSettings
from gempool.imagehost.providers import ProviderError, ProviderNotConfigured, Upload
from gempool.imagehost.remote import remote_provider

ITEM = Upload(data=b"\x89PNG....", mime_type="image/png", name="N" * 32 + ".png")
Handler = Callable[[httpx.Request], httpx.Response]


async def run(live: LiveSettings, handler: Handler) -> str:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        return await remote_provider(live, client).upload(ITEM)


def answer(status: int, body: object, into: list[httpx.Request] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if into is not None:
            into.append(request)
        return httpx.Response(status, json=body)

    return handler


SMMS = LiveSettings(UPLOAD_PROVIDER="smms", SMMS_SECRET_TOKEN="tok")
PICGO = LiveSettings(UPLOAD_PROVIDER="picgo", PICGO_API_KEY="key")
IMGBED = LiveSettings(
    UPLOAD_PROVIDER="cloudflare_imgbed",
    CLOUDFLARE_IMGBED_URL="https://bed.example/upload",
    CLOUDFLARE_IMGBED_AUTH_CODE="c",
)


async def test_smms_sends_the_file_and_token() -> None:
    seen: list[httpx.Request] = []
    url = await run(SMMS, answer(200, {"success": True, "data": {"url": "https://s.ee/x.png"}}, seen))
    assert url == "https://s.ee/x.png"
    request = seen[0]
    assert (request.method, str(request.url)) == ("POST", "https://sm.ms/api/v2/upload")
    assert request.headers["authorization"] == "Basic tok"
    body = request.read()
    assert b'name="smfile"' in body and ITEM.data in body and ITEM.name.encode() in body


async def test_smms_repeated_image_returns_the_first_url() -> None:
    body = {"success": False, "code": "image_repeated", "images": "https://s.ee/old.png"}
    assert await run(SMMS, answer(200, body)) == "https://s.ee/old.png"


async def test_picgo() -> None:
    seen: list[httpx.Request] = []
    url = await run(PICGO, answer(200, {"status_code": 200, "image": {"url": "https://p.ee/x.png"}}, seen))
    assert url == "https://p.ee/x.png"
    assert seen[0].headers["x-api-key"] == "key"
    assert b'name="source"' in seen[0].read()


async def test_cloudflare_imgbed_resolves_a_relative_src() -> None:
    seen: list[httpx.Request] = []
    url = await run(IMGBED, answer(200, [{"src": "/file/abc.png"}], seen))
    assert url == "https://bed.example/file/abc.png"
    assert seen[0].url.params["authCode"] == "c"
    assert b'name="file"' in seen[0].read()


@pytest.mark.parametrize(
    ("live", "status", "body"),
    [
        (SMMS, 200, {"success": False, "code": "unauthorized", "message": "bad token"}),
        (SMMS, 500, {"success": True, "data": {"url": "https://s.ee/x.png"}}),
        (SMMS, 200, {"success": True, "data": {"url": "javascript:alert(1)"}}),
        (PICGO, 200, {"status_code": 400, "error": {"message": "nope"}}),
        (PICGO, 200, ["not", "a", "dict"]),
        (IMGBED, 200, []),
        (IMGBED, 200, [{"src": "javascript:alert(1)"}]),
    ],
)
async def test_refusals_and_bad_answers_are_provider_errors(
    live: LiveSettings, status: int, body: object
) -> None:
    with pytest.raises(ProviderError):
        await run(live, answer(status, body))


async def test_network_failure_is_a_provider_error() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ProviderError, match="ConnectError"):
        await run(SMMS, fail)


@pytest.mark.parametrize("provider", ["smms", "picgo", "cloudflare_imgbed"])
async def test_missing_credentials_are_reported_by_name(provider: str) -> None:
    with pytest.raises(ProviderNotConfigured):
        await run(LiveSettings(UPLOAD_PROVIDER=provider), answer(200, {}))
