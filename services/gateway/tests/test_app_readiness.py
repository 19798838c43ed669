"""/readyz tells the truth (not ready before settings nor once stopping), requests refused for want
of settings are counted, and a missing imagehost is a 503 that names no internal address."""

import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from gempool.fakegemini.server import Running
from gempool.gateway.app import create_app
from gempool.gateway.runtime import Runtime
from gempool.gateway.settings import GatewaySettings

from .conftest import FakeKeyPool
from .gateway_app import TOKEN, gateway_client

GENERATE = f"/v1beta/models/gemini-2.5-flash:generateContent?key={TOKEN}"
HELLO = {"contents": [{"parts": [{"text": "hi"}]}]}


@contextlib.asynccontextmanager
async def without_settings(port: int) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app as it starts: the config service has not sent settings yet."""
    settings = GatewaySettings(
        KEYPOOL_ADDR=f"127.0.0.1:{port}", CONFIG_ADDR="127.0.0.1:1", IMAGEHOST_ADDR="127.0.0.1:1"
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            yield app, client


def not_ready(rt: Runtime) -> float:
    return (
        rt.metrics.registry.get_sample_value("gempool_gateway_refused_requests_total", {"reason": "starting"})
        or 0.0
    )


async def test_before_settings_it_is_not_ready_and_the_503s_are_counted(
    fake_pool: tuple[FakeKeyPool, int],
) -> None:
    async with without_settings(fake_pool[1]) as (app, gw):
        ready = await gw.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "waiting for settings"
        answers = [await gw.post(GENERATE, json=HELLO), await gw.post(GENERATE, json=HELLO)]
        assert [a.status_code for a in answers] == [503, 503]
        assert answers[0].json()["error"]["status"] == "UNAVAILABLE"
        chat = await gw.post("/v1/chat/completions", headers={"authorization": f"Bearer {TOKEN}"}, json={})
        assert chat.status_code == 503 and "starting" in chat.json()["error"]["message"]
        assert not_ready(app.state.rt) == 3


async def test_a_stopping_gateway_is_not_ready(fake_pool: tuple[FakeKeyPool, int], upstream: Running) -> None:
    async with gateway_client(fake_pool, upstream, ["ok-1"]) as gw:
        assert (await gw.get("/readyz")).status_code == 200
        rt: Runtime = gw._transport.app.state.rt  # type: ignore[attr-defined]
        rt.drain.begin()
        ready = await gw.get("/readyz")
        assert ready.status_code == 503 and ready.json() == {"status": "stopping"}
        assert (await gw.post(GENERATE, json=HELLO)).status_code == 200  # in flight: still served


async def test_images_with_the_imagehost_down_are_a_503_without_internal_addresses(
    fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    async with gateway_client(fake_pool, upstream, ["ok-1"]) as gw:  # imagehost at 127.0.0.1:1
        response = await gw.get("/images/abc.png")
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    error = response.json()["error"]
    assert error["status"] == "UNAVAILABLE" and "image store" in error["message"]
    assert "127.0.0.1" not in response.text and "ipv4" not in response.text
