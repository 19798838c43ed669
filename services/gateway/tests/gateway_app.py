"""The whole gateway app in process, before a real fake KeyPool (gRPC) and the fake upstream."""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from gempool.common.live import LiveSettings
from gempool.fakegemini.server import Running
from gempool.gateway.app import create_app
from gempool.gateway.runtime import Live
from gempool.gateway.settings import GatewaySettings

from .conftest import FakeKeyPool

TOKEN = "t"


@contextlib.asynccontextmanager
async def gateway_client(
    fake_pool: tuple[FakeKeyPool, int],
    upstream: Running,
    keys: list[str],
    process: Any = None,  # dict of process settings (Any: the **live unpacking callers type-check)
    **live: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app; the pool leases ``keys`` in order, ``process`` and ``live`` override
    process and live settings."""
    upstream.fake.calls.clear()
    upstream.fake.rules.keys.clear()
    pool, port = fake_pool
    pool.keys = keys
    settings = GatewaySettings(
        KEYPOOL_ADDR=f"127.0.0.1:{port}",
        CONFIG_ADDR="127.0.0.1:1",
        IMAGEHOST_ADDR="127.0.0.1:1",
        **(process or {}),
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        base: dict[str, Any] = {
            "BASE_URL": f"{upstream.url}/v1beta",
            "ALLOWED_TOKENS": [TOKEN],
            "MAX_RETRIES": 3,
        }
        app.state.rt.live = Live.build(LiveSettings.model_validate(base | live))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            yield client
