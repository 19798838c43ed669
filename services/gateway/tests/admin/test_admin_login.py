"""Wrong admin tokens lock an address out, over real HTTP, on two gateways sharing one Redis."""

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from gempool.common.live import LiveSettings
from gempool.gateway.__main__ import proxy_options
from gempool.gateway.app import create_app
from gempool.gateway.runtime import Live
from gempool.gateway.settings import GatewaySettings

from ..conftest import REDIS_URL, FakeKeyPool

ADMIN = "admin-token-login-test-1"
LIMIT = 3


@dataclass
class Gateway:
    app: FastAPI
    url: str

    def lockouts(self) -> float:
        value = self.app.state.rt.metrics.registry.get_sample_value("gempool_gateway_admin_lockouts_total")
        return value or 0.0


@contextmanager
def serve(settings: GatewaySettings, trusted_proxies: str) -> Iterator[Gateway]:
    """The gateway on a real port, in a thread of its own (uvicorn, as ``python -m`` runs it)."""
    app = create_app(settings)
    settings = settings.model_copy(update={"FORWARDED_ALLOW_IPS": trusted_proxies})
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", **proxy_options(settings))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the gateway did not start"
        time.sleep(0.01)
    live = LiveSettings(AUTH_TOKEN=ADMIN, ADMIN_LOGIN_MAX_FAILURES=LIMIT, ADMIN_LOGIN_WINDOW_SECONDS=600)
    app.state.rt.live = Live.build(live)
    try:
        yield Gateway(app, f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}")
    finally:
        server.should_exit = True
        thread.join(10)


Serve = Callable[..., Gateway]


@pytest.fixture
def gateways(fake_pool: tuple[FakeKeyPool, int], redis_prefix: str) -> Iterator[Serve]:
    """Start gateways on one Redis prefix; ``trusted_proxies`` is the gateway's FORWARDED_ALLOW_IPS."""
    settings = GatewaySettings(
        KEYPOOL_ADDR=f"127.0.0.1:{fake_pool[1]}",
        CONFIG_ADDR="127.0.0.1:1",
        IMAGEHOST_ADDR="127.0.0.1:1",
        REDIS_URL=REDIS_URL,
        REDIS_PREFIX=redis_prefix,
    )
    with ExitStack() as stack:
        yield lambda trusted_proxies="": stack.enter_context(serve(settings, trusted_proxies))


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def login(http: httpx.AsyncClient, gateway: Gateway, token: str, forwarded: str = "") -> httpx.Response:
    headers = {"x-forwarded-for": forwarded} if forwarded else {}
    return await http.post(f"{gateway.url}/api/admin/login", json={"token": token}, headers=headers)


async def bearer(
    http: httpx.AsyncClient, gateway: Gateway, token: str, forwarded: str = ""
) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} | ({"x-forwarded-for": forwarded} if forwarded else {})
    return await http.get(f"{gateway.url}/api/admin/session", headers=headers)


async def test_wrong_tokens_on_either_gateway_lock_the_address_on_both(
    gateways: Serve, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = gateways(), gateways()
    caplog.set_level(logging.WARNING, logger="gempool.gateway.admin.deps")
    assert (await login(http, a, "guess-1")).status_code == 401
    assert (await bearer(http, b, "guess-2")).status_code == 401
    assert (await login(http, b, "guess-3")).status_code == 401  # the third: locked from now on
    assert a.lockouts() == 0 and b.lockouts() == 1

    for gateway in (a, b):
        refused = await login(http, gateway, ADMIN)  # even the right token: a guess would show
        assert refused.status_code == 429
        assert 590 <= int(refused.headers["retry-after"]) <= 600
        assert refused.json()["detail"].startswith("Too many wrong admin tokens from your address")
        assert "Try again in 10 minutes" in refused.json()["detail"]
        assert (await bearer(http, gateway, ADMIN)).status_code == 429
    assert b.lockouts() == 1  # refusals are not new lockouts

    [record] = [r for r in caplog.records if "locked" in r.getMessage()]
    assert record.__dict__["client"] == "127.0.0.1" and record.__dict__["failures"] == LIMIT
    assert not any(secret in caplog.text for secret in (ADMIN, "guess-1", "guess-2", "guess-3"))


async def test_the_right_token_clears_the_failures(gateways: Serve, http: httpx.AsyncClient) -> None:
    a, b = gateways(), gateways()
    for _ in range(LIMIT - 1):
        assert (await login(http, a, "guess")).status_code == 401
    assert (await bearer(http, b, ADMIN)).json()["via"] == "bearer"
    for _ in range(LIMIT):
        assert (await bearer(http, a, "guess")).status_code == 401
    assert (await bearer(http, b, "guess")).status_code == 429


async def test_a_forged_forwarded_for_does_not_pick_a_fresh_address(
    gateways: Serve, http: httpx.AsyncClient
) -> None:
    direct = gateways()  # clients reach it directly: no proxy is trusted
    for n in range(LIMIT):
        assert (await login(http, direct, "guess", forwarded=f"203.0.113.{n}")).status_code == 401
    forged = await login(http, direct, ADMIN, forwarded="198.51.100.99")
    assert forged.status_code == 429

    # Behind a proxy the gateway trusts (FORWARDED_ALLOW_IPS), the address the proxy saw is counted.
    proxied = gateways(trusted_proxies="127.0.0.1")
    for _ in range(LIMIT):
        assert (await login(http, proxied, "guess", forwarded="203.0.113.50")).status_code == 401
    assert (await bearer(http, proxied, ADMIN, forwarded="203.0.113.50")).status_code == 429
    assert (await bearer(http, proxied, ADMIN, forwarded="203.0.113.51")).status_code == 200
    # a client's own X-Forwarded-For entries come before the proxy's: the proxy's is the one counted
    spoof = "203.0.113.77, 203.0.113.50"
    assert (await bearer(http, proxied, ADMIN, forwarded=spoof)).status_code == 429
