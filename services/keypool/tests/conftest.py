"""Fixtures: both stores (real Redis, one prefix per test), a fake config service, a running keypool."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable

import grpc
import httpx
import pytest
import redis.asyncio as aioredis

from gempool.api.keypool.v1 import keypool_pb2_grpc
from gempool.fakegemini.errors import suspended
from gempool.keypool.server import serve
from gempool.keypool.settings import KeyPoolSettings
from gempool.keypool.store import MemoryStore, RedisStore, Store
from gempool.keypool.testing import FakeConfig, Harness, start_fake_config

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A fresh REDIS_PREFIX; every key under it is deleted afterwards."""
    prefix = f"gempool-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        names = [name async for name in client.scan_iter(match=f"{prefix}*", count=1000)]
        if names:
            await client.delete(*names)
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def make_store(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[Callable[[], Store]]:
    """Builds stores of the parametrized kind.

    Redis stores built by one test share one prefix, as replicas share one Redis; memory stores are
    one instance (a memory store serves one node).
    """
    opened: list[Store] = []
    shared = MemoryStore()

    def build() -> Store:
        store: Store = RedisStore.from_url(REDIS_URL, redis_prefix) if request.param == "redis" else shared
        opened.append(store)
        return store

    yield build
    for store in opened:
        await store.close()


@pytest.fixture
async def redis_store(redis_prefix: str) -> AsyncIterator[RedisStore]:
    store = RedisStore.from_url(REDIS_URL, redis_prefix)
    yield store
    await store.close()


@pytest.fixture
def store(make_store: Callable[[], Store]) -> Store:
    return make_store()


def upstream_handler(seen: list[httpx.Request], good: set[str]) -> Callable[[httpx.Request], httpx.Response]:
    """A Gemini stand-in: 200 for keys in ``good``, Google's suspended-key answer (which quotes the
    whole key) for keys starting ``AIzaSySusp``, Google's invalid-key answer for the rest."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        key = request.headers.get("x-goog-api-key", "")
        if key in good:
            return httpx.Response(200, json={"candidates": [{"content": {"parts": [{"text": "h"}]}}]})
        if key.startswith("AIzaSySusp"):
            status, body = suspended(key)
            return httpx.Response(status, content=body)
        error = {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
        }
        return httpx.Response(400, json={"error": error})

    return handle


@pytest.fixture
def good_keys() -> set[str]:
    """Keys the fake upstream accepts (tests add to it)."""
    return set()


@pytest.fixture
def fake_config() -> FakeConfig:
    # abstract to mypy: the RPCs the keypool never calls are not written (they answer UNIMPLEMENTED)
    return FakeConfig({"MAX_FAILURES": "3", "COOLDOWN_DEFAULT_SECONDS": "60"})  # type: ignore[abstract]


@pytest.fixture(params=["memory", "redis"])
async def keypool(
    request: pytest.FixtureRequest, fake_config: FakeConfig, redis_prefix: str, good_keys: set[str]
) -> AsyncIterator[Harness]:
    config_server, config_port = await start_fake_config(fake_config)
    settings = KeyPoolSettings(
        _env_file=None,  # type: ignore[call-arg]
        GRPC_HOST="127.0.0.1",
        KEYPOOL_PORT=0,
        KEYPOOL_METRICS_PORT=-1,
        CONFIG_ADDR=f"127.0.0.1:{config_port}",
        REDIS_URL=REDIS_URL if request.param == "redis" else "",
        REDIS_PREFIX=redis_prefix,
        SHUTDOWN_GRACE_SECONDS=0.1,
    )
    seen: list[httpx.Request] = []
    http = httpx.AsyncClient(transport=httpx.MockTransport(upstream_handler(seen, good_keys)))
    opened: dict[str, list[httpx.AsyncClient]] = {}

    def client_for(proxy: str) -> httpx.AsyncClient:
        """The same fake upstream, reached "through" ``proxy`` (noted on each request)."""
        handle = upstream_handler(seen, good_keys)

        def via_proxy(request: httpx.Request) -> httpx.Response:
            request.extensions["proxy"] = proxy
            return handle(request)

        client = httpx.AsyncClient(transport=httpx.MockTransport(via_proxy))
        opened.setdefault(proxy, []).append(client)
        return client

    stop, port = asyncio.Event(), asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve(settings, stop=stop, ready=port.set_result, http=http, client_for=client_for, probe_tick=0.05)
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{await asyncio.wait_for(port, 10)}")
    try:
        stub = keypool_pb2_grpc.KeyPoolServiceStub(channel)
        yield Harness(fake_config, stub, seen, opened)
    finally:
        await channel.close()
        stop.set()
        await task
        await http.aclose()
        await config_server.stop(None)
