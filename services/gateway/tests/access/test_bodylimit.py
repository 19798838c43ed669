"""MAX_REQUEST_BYTES holds at the outermost layer: 413 in the caller's dialect before routing and auth,
for declared lengths (nothing read) and for chunked bodies (read no further than the limit)."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gempool.fakegemini.server import Running

from ..conftest import FakeKeyPool
from ..gateway_app import TOKEN, gateway_client

LIMIT = 4096
ADMIN_LIMIT = 2048
CHUNK = 1024
LIMITS = {"MAX_REQUEST_BYTES": LIMIT, "ADMIN_MAX_REQUEST_BYTES": ADMIN_LIMIT}
NATIVE = "/v1beta/models/gemini-2.5-flash:generateContent"


class Body:
    """A request body sent chunk by chunk; counts how many chunks the gateway pulled."""

    def __init__(self, size: int, filler: bytes = b" ") -> None:
        prompt = b'{"contents": [{"parts": [{"text": "hi"}]}]}'
        self.data = prompt + filler * (size - len(prompt))
        self.pulled = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), CHUNK):
            self.pulled += 1
            yield self.data[start : start + CHUNK]


def dialect_of(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    if "detail" in body:
        return "admin"
    error = body["error"]
    if set(error) == {"message", "type", "param", "code"}:
        assert error["type"] == "invalid_request_error"
        return "openai"
    assert error["code"] == 413 and error["status"] == "INVALID_ARGUMENT"
    return "gemini"


CASES = [
    (NATIVE, {}, "gemini", LIMIT),  # no token: the size is judged before auth
    ("/v1/chat/completions", {"authorization": f"Bearer {TOKEN}"}, "openai", LIMIT),
    ("/openai/v1/chat/completions", {}, "openai", LIMIT),
    ("/v1beta/files", {}, "gemini", LIMIT),
    ("/api/admin/import", {}, "admin", ADMIN_LIMIT),  # unauthenticated: still never read
]


@pytest.mark.parametrize(("path", "headers", "dialect", "limit"), CASES)
async def test_a_declared_length_over_the_limit_is_refused_without_reading_the_body(
    fake_pool: tuple[FakeKeyPool, int],
    upstream: Running,
    path: str,
    headers: dict[str, str],
    dialect: str,
    limit: int,
) -> None:
    body = Body(limit + 1)
    sized = {**headers, "content-length": str(len(body.data)), "content-type": "application/json"}
    async with gateway_client(fake_pool, upstream, ["ok-1"], process=LIMITS) as gw:
        response = await gw.post(path, headers=sized, content=body.chunks())
    assert response.status_code == 413 and dialect_of(response) == dialect
    assert body.pulled == 0 and upstream.fake.calls == []


@pytest.mark.parametrize(("path", "headers", "dialect", "limit"), CASES)
async def test_a_chunked_body_over_the_limit_is_refused_once_the_limit_is_passed(
    fake_pool: tuple[FakeKeyPool, int],
    upstream: Running,
    path: str,
    headers: dict[str, str],
    dialect: str,
    limit: int,
) -> None:
    body = Body(100 * CHUNK)
    async with gateway_client(fake_pool, upstream, ["ok-1"], process=LIMITS) as gw:
        response = await gw.post(path, headers=headers, content=body.chunks())
    assert response.status_code == 413 and dialect_of(response) == dialect
    assert body.pulled == limit // CHUNK + 1 and upstream.fake.calls == []


async def test_bodies_within_the_limit_reach_the_route_chunked_or_not(
    fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    async with gateway_client(fake_pool, upstream, ["ok-1"], process=LIMITS) as gw:
        chunked = Body(LIMIT)
        streamed = await gw.post(NATIVE, params={"key": TOKEN}, content=chunked.chunks())
        sized = await gw.post(NATIVE, params={"key": TOKEN}, content=Body(LIMIT).data)
    assert streamed.status_code == 200 and sized.status_code == 200, (streamed.text, sized.text)
    assert chunked.pulled == LIMIT // CHUNK and len(upstream.fake.calls) == 2
    assert upstream.fake.calls[0]["body"] == {"contents": [{"parts": [{"text": "hi"}]}]}


async def test_the_admin_api_has_its_own_limit(fake_pool: tuple[FakeKeyPool, int], upstream: Running) -> None:
    """Admin bodies over ADMIN_MAX_REQUEST_BYTES are refused; the same size passes on the model API."""
    size = ADMIN_LIMIT + 100
    async with gateway_client(fake_pool, upstream, ["ok-1"], process=LIMITS) as gw:
        admin = await gw.post("/api/admin/login", content=b"x" * size)
        model = await gw.post(NATIVE, params={"key": TOKEN}, content=Body(size).data)
    assert admin.status_code == 413 and model.status_code == 200


async def test_an_unauthenticated_import_within_the_limit_is_refused_before_its_body_is_read(
    fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    body = Body(ADMIN_LIMIT)
    sized = {"content-length": str(len(body.data)), "content-type": "application/json"}
    async with gateway_client(fake_pool, upstream, ["ok-1"], process=LIMITS) as gw:
        refused = await gw.post("/api/admin/import", headers=sized, content=body.chunks())
        forged = await gw.post(
            "/api/admin/import",
            headers={**sized, "authorization": "Bearer wrong"},
            content=Body(ADMIN_LIMIT).data,
        )
    assert refused.status_code == 401 and body.pulled == 0
    assert forged.status_code == 401
