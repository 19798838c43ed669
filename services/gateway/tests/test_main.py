"""``python -m gempool.gateway`` believes forwarding headers only from the proxies it is told of."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gempool.gateway.__main__ import proxy_options
from gempool.gateway.access.auth import client_of
from gempool.gateway.settings import GatewaySettings

FORGED = {"x-forwarded-for": "198.51.100.7", "x-forwarded-proto": "https"}


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"client": client_of(request), "scheme": request.url.scheme})


Served = Callable[[GatewaySettings], AbstractAsyncContextManager[str]]


@pytest.fixture
def served() -> Served:
    @asynccontextmanager
    async def serve(settings: GatewaySettings) -> AsyncIterator[str]:
        """An app that shows the address every throttle counts, under the gateway's uvicorn options."""
        app = Starlette(routes=[Route("/", whoami)])
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", **proxy_options(settings))
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            assert not task.done(), "uvicorn did not start"
            await asyncio.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/"
        finally:
            server.should_exit = True
            await task

    return serve


async def test_by_default_a_forwarded_for_from_loopback_is_not_believed(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    async with served(GatewaySettings(_env_file=None)) as url, httpx.AsyncClient() as http:  # type: ignore[call-arg]
        seen = (await http.get(url, headers=FORGED)).json()
    assert seen == {"client": "127.0.0.1", "scheme": "http"}


async def test_a_named_proxy_is_believed(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.0/8, 127.0.0.1")  # the name uvicorn users know
    async with served(GatewaySettings(_env_file=None)) as url, httpx.AsyncClient() as http:  # type: ignore[call-arg]
        seen = (await http.get(url, headers=FORGED)).json()
    assert seen == {"client": "198.51.100.7", "scheme": "https"}
