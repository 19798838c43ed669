"""Every admin route refuses a caller without the admin token or a live session.

The routes are walked from the app itself, so a route mounted outside the guard fails here at once,
whatever module it lives in.
"""

import re
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from gempool.api.config.v1 import config_pb2, config_pb2_grpc
from gempool.common.grpcserver import KEEPALIVE_ACCEPTED
from gempool.common.live import LiveSettings
from gempool.gateway.admin.api import PREFIX
from gempool.gateway.admin.deps import COOKIE
from gempool.gateway.app import create_app
from gempool.gateway.runtime import Live
from gempool.gateway.settings import GatewaySettings

from ..conftest import FakeKeyPool

PUBLIC = {f"{PREFIX}/login", f"{PREFIX}/logout"}


class NoSessions(config_pb2_grpc.ConfigServiceServicer):
    """A config service that knows no session: every cookie is a forged one."""

    def __init__(self) -> None:
        self.checked: list[str] = []

    async def CheckSession(
        self, request: config_pb2.CheckSessionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> config_pb2.CheckSessionResponse:
        self.checked.append(request.digest)
        return config_pb2.CheckSessionResponse(valid=False)


@pytest.fixture
async def app(fake_pool: tuple[FakeKeyPool, int]) -> AsyncIterator[tuple[FastAPI, NoSessions]]:
    config = NoSessions()  # type: ignore[abstract]  # CheckSession alone; the rest answer UNIMPLEMENTED
    server = grpc.aio.server(options=KEEPALIVE_ACCEPTED)
    config_pb2_grpc.add_ConfigServiceServicer_to_server(config, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    keypool, config_addr = f"127.0.0.1:{fake_pool[1]}", f"127.0.0.1:{port}"
    settings = GatewaySettings(KEYPOOL_ADDR=keypool, CONFIG_ADDR=config_addr, IMAGEHOST_ADDR="127.0.0.1:1")
    gateway = create_app(settings)
    async with gateway.router.lifespan_context(gateway):
        live = LiveSettings(AUTH_TOKEN="the-admin-token-1234", ADMIN_LOGIN_MAX_FAILURES=10_000)
        gateway.state.rt.live = Live.build(live)
        yield gateway, config
    await server.stop(None)


def admin_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path with every parameter filled) of each admin API route but login and logout."""
    found = []
    for route in iter_route_contexts(app.routes):  # into included routers too
        if route.path and route.path.startswith(PREFIX) and route.path not in PUBLIC:
            path = re.sub(r"\{[^}]+\}", "x1", route.path)
            found += [(method, path) for method in sorted(route.methods or ())]
    return found


async def test_the_walk_finds_the_admin_api(app: tuple[FastAPI, NoSessions]) -> None:
    paths = {path for _, path in admin_routes(app[0])}
    assert {f"{PREFIX}/session", f"{PREFIX}/keys", f"{PREFIX}/settings", f"{PREFIX}/export"} <= paths
    assert len(paths) > 15


async def test_every_admin_route_refuses_without_credentials_or_with_a_forged_cookie(
    app: tuple[FastAPI, NoSessions],
) -> None:
    gateway, config = app
    routes = admin_routes(gateway)
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        for method, path in routes:
            bare = await client.request(method, path)
            assert bare.status_code == 401, (method, path, bare.text)
            client.cookies.set(COOKIE, f"forged-{method}-{path}")
            forged = await client.request(method, path)
            client.cookies.clear()
            assert forged.status_code == 401, (method, path, forged.text)
            wrong = await client.request(method, path, headers={"authorization": "Bearer not-the-token"})
            assert wrong.status_code == 401, (method, path, wrong.text)
    assert len(config.checked) == len(routes)  # each forged cookie was looked up, and refused
