"""Wrong API tokens on the model API: the admin token is refused with a hint, guesses are throttled
per address (in memory, or in Redis across replicas), and a right token never costs a Redis call."""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry
from redis import asyncio as aioredis

from gempool.common.live import LiveSettings
from gempool.fakegemini.server import Running
from gempool.gateway.access.clientthrottle import ClientLockouts
from gempool.gateway.access.loginthrottle import Attempt, MemoryThrottle, RedisThrottle
from gempool.gateway.app import create_app
from gempool.gateway.metrics import GatewayMetrics
from gempool.gateway.runtime import Live, Runtime
from gempool.gateway.settings import GatewaySettings

from ..conftest import REDIS_URL, FakeKeyPool

TEAM, ADMIN_TOKEN, LIMIT = "team-token", "the-admin-token", 3
NATIVE = "/v1beta/models/gemini-2.5-flash:generateContent"
CHAT = "/v1/chat/completions"
BODY = {"contents": [{"parts": [{"text": "hi"}]}]}
CHAT_BODY = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]}


class Gateway:
    """The app in process; ``client(address)`` calls it from that peer address."""

    def __init__(self, app: Any, stack: contextlib.AsyncExitStack) -> None:
        self.app, self._stack = app, stack

    @property
    def rt(self) -> Runtime:
        return self.app.state.rt  # type: ignore[no-any-return]

    async def client(self, address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(address, 40000))
        return await self._stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://gw")
        )


@pytest.fixture
async def gateway(fake_pool: tuple[FakeKeyPool, int], upstream: Running) -> AsyncIterator[Gateway]:
    pool, port = fake_pool
    pool.keys = ["AIzaSyClientThrottleKey0000000000000001"]
    settings = GatewaySettings(
        KEYPOOL_ADDR=f"127.0.0.1:{port}", CONFIG_ADDR="127.0.0.1:1", IMAGEHOST_ADDR="127.0.0.1:1"
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app), contextlib.AsyncExitStack() as stack:
        live = LiveSettings(
            BASE_URL=f"{upstream.url}/v1beta",
            ALLOWED_TOKENS=[TEAM],
            AUTH_TOKEN=ADMIN_TOKEN,
            CLIENT_AUTH_MAX_FAILURES=LIMIT,
            CLIENT_AUTH_WINDOW_SECONDS=60,
        )
        app.state.rt.live = Live.build(live)
        yield Gateway(app, stack)


async def native(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(NATIVE, headers={"x-goog-api-key": token}, json=BODY)


async def chat(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(CHAT, headers={"authorization": f"Bearer {token}"}, json=CHAT_BODY)


async def test_the_admin_token_is_refused_with_a_hint_in_the_callers_dialect(gateway: Gateway) -> None:
    client = await gateway.client("10.0.0.1")
    google = await native(client, ADMIN_TOKEN)
    assert google.status_code == 403
    error = google.json()["error"]
    assert error["status"] == "PERMISSION_DENIED" and "team token" in error["message"]
    openai = await chat(client, ADMIN_TOKEN)
    assert openai.status_code == 403
    assert (
        openai.json()["error"]["type"] == "permission_error"
        and "team token" in openai.json()["error"]["message"]
    )
    assert (await native(client, TEAM)).status_code == 200, "team tokens still work"


@pytest.mark.parametrize("call", [native, chat])
async def test_an_address_over_the_limit_is_locked_even_for_a_right_token(
    gateway: Gateway, call: Any
) -> None:
    guesser, neighbour = await gateway.client("203.0.113.7"), await gateway.client("203.0.113.8")
    answers = [(await call(guesser, f"guess-{i}")).status_code for i in range(LIMIT)]
    assert answers == [401] * LIMIT
    locked = await call(guesser, "one-more-guess")
    assert locked.status_code == 429 and 55 <= int(locked.headers["retry-after"]) <= 60
    assert "wrong API token" in orjson.loads(locked.content)["error"]["message"]
    assert (await call(guesser, TEAM)).status_code == 429, "a lucky guess must tell nothing"
    assert (await call(neighbour, TEAM)).status_code == 200, "another address is not locked"
    locks = gateway.rt.metrics.registry.get_sample_value("gempool_gateway_client_auth_lockouts_total")
    assert locks == 1


async def test_the_admin_token_counts_as_a_wrong_token(gateway: Gateway) -> None:
    """Else the model API would be a way to guess admin tokens past the admin sign-in lockout."""
    client = await gateway.client("198.51.100.2")
    assert [(await native(client, ADMIN_TOKEN)).status_code for _ in range(LIMIT + 1)] == [403] * LIMIT + [
        429
    ]


class Spy(MemoryThrottle):
    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    async def attempt(self, client: str, limit: int, window: float) -> Attempt:
        self.attempts += 1
        return await super().attempt(client, limit, window)


async def test_right_and_missing_tokens_never_reach_the_count(gateway: Gateway) -> None:
    spy = Spy()
    gateway.rt.client_lockouts = ClientLockouts(spy, gateway.rt.metrics)
    client = await gateway.client("10.0.0.9")
    for _ in range(5):
        assert (await native(client, TEAM)).status_code == 200
    assert (await client.post(NATIVE, json=BODY)).status_code == 401  # no token: not a guess
    assert spy.attempts == 0
    assert (await native(client, "wrong")).status_code == 401
    assert spy.attempts == 1


async def test_replicas_share_the_count_through_redis(redis_prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        replicas = [
            ClientLockouts(RedisThrottle(client, redis_prefix, metrics, "client"), metrics)
            for metrics in (GatewayMetrics(CollectorRegistry()), GatewayMetrics(CollectorRegistry()))
        ]
        for _ in range(LIMIT):
            assert await replicas[0].failed("2001:db8::1", LIMIT, 60) == 0
        assert replicas[0].locked_for("2001:db8::1") > 0
        assert replicas[0].locked_for("2001:db8::99") > 0, "one IPv6 host holds a whole /64"
        assert replicas[1].locked_for("2001:db8::1") == 0, "the right-token path never asks Redis"
        assert await replicas[1].failed("2001:db8::1", LIMIT, 60) > 0, "the other replica's first wrong token"
        assert replicas[1].locked_for("2001:db8::1") > 0
        assert await client.exists(f"{redis_prefix}client:failures:2001:db8::/64") == 1
        assert await client.exists(f"{redis_prefix}admin:failures:2001:db8::/64") == 0, "counts of their own"
    finally:
        await client.aclose()
