"""A token over its rate limit is told so in its own dialect: OpenAI's error on every OpenAI route
that calls a model (a model list, served from the gateway's cache, is not counted)."""

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gempool.api.config.v1 import config_pb2
from gempool.common.live import LiveSettings
from gempool.fakegemini.server import Running
from gempool.gateway.app import create_app
from gempool.gateway.runtime import Live
from gempool.gateway.settings import GatewaySettings

from ..conftest import FakeKeyPool
from .test_routes import openai_error

CHAT = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hello"}]}
CALLS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "chat": ("POST", "/v1/chat/completions", CHAT),
    "chat stream": ("POST", "/v1/chat/completions", CHAT | {"stream": True}),
    "hf chat": ("POST", "/hf/v1/chat/completions", CHAT),
    "embeddings": ("POST", "/v1/embeddings", {"model": "text-embedding-004", "input": "hi"}),
    "images": ("POST", "/v1/images/generations", {"model": "imagen-3.0-generate-002", "prompt": "a cat"}),
    "speech": (
        "POST",
        "/v1/audio/speech",
        {"model": "gemini-2.5-flash-preview-tts", "input": "hi", "voice": "alloy"},
    ),
    "passthrough": ("POST", "/openai/v1/chat/completions", CHAT),
}


def token(index: int, secret: str) -> config_pb2.ClientToken:
    digest = hashlib.sha256(secret.encode()).hexdigest()
    return config_pb2.ClientToken(id=index, name=f"team-{index}", digest=digest, enabled=True, rpm_limit=1)


@pytest.fixture
async def gateway(fake_pool: tuple[FakeKeyPool, int], upstream: Running) -> AsyncIterator[httpx.AsyncClient]:
    """The app; each call above has a token of its own allowed one request a minute."""
    pool, port = fake_pool
    pool.keys = ["ok-1"]
    settings = GatewaySettings(
        KEYPOOL_ADDR=f"127.0.0.1:{port}", CONFIG_ADDR="127.0.0.1:1", IMAGEHOST_ADDR="127.0.0.1:1"
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        live = LiveSettings(BASE_URL=f"{upstream.url}/v1beta")
        tokens = [token(i, f"secret-{name}") for i, name in enumerate(CALLS, 1)]
        app.state.rt.live = Live.build(live, 1, tokens)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
            yield client


@pytest.mark.parametrize("name", list(CALLS))
async def test_over_the_limit_gets_openais_429(gateway: httpx.AsyncClient, name: str) -> None:
    method, path, body = CALLS[name]
    headers = {"authorization": f"Bearer secret-{name}"}
    first = await gateway.request(method, path, json=body, headers=headers)
    assert first.status_code != 429, first.text
    second = await gateway.request(method, path, json=body, headers=headers)
    error = openai_error(second, 429)
    assert error["type"] == "rate_limit_error" and "requests per minute" in error["message"]
    assert 1 <= int(second.headers["retry-after"]) <= 60
