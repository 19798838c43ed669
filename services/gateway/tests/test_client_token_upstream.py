"""A client's own token never reaches Google, whichever way it was sent and whatever was called.

The fake upstream records every request as it crossed the wire (path, query string, every header);
each must carry a pool key and nothing of the client's token.
"""

from collections.abc import Awaitable, Callable

import httpx
import pytest

from gempool.fakegemini.server import Running

from .conftest import FakeKeyPool
from .gateway_app import gateway_client

SECRET = "team-secret-Qx7vR2kP9w"
POOL_KEY = "ok-pool-key-1"
STYLES: dict[str, Callable[[], dict[str, dict[str, str]]]] = {
    "x-goog-api-key": lambda: {"headers": {"x-goog-api-key": SECRET}},
    "?key=": lambda: {"params": {"key": SECRET}},
    "bearer": lambda: {"headers": {"authorization": f"Bearer {SECRET}"}},
}
HELLO = {"contents": [{"parts": [{"text": "hi"}]}]}
CHAT = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]}
BOUNDARY = "gempool-boundary"
NOTES = (
    f"--{BOUNDARY}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
    '{"file": {"displayName": "notes"}}\r\n'
    f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nsome notes\r\n--{BOUNDARY}--\r\n"
).encode()
UPSTREAM = {
    ("POST", "/v1beta/models/gemini-2.5-flash:generateContent"),  # also OpenAI's chat, translated
    ("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent"),
    ("POST", "/v1beta/openai/chat/completions"),
    ("GET", "/v1beta/models"),
    ("POST", "/v1beta1/publishers/google/models/gemini-2.5-flash:generateContent"),
    ("POST", "/upload/v1beta/files"),
    ("GET", "/v1beta/files"),
    ("DELETE", "/v1beta/files"),
}
UPLOAD = {"x-goog-upload-protocol": "multipart", "content-type": f"multipart/related; boundary={BOUNDARY}"}


async def every_kind_of_call(
    gw: httpx.AsyncClient, auth: Callable[[], dict[str, dict[str, str]]]
) -> dict[str, httpx.Response]:
    """Native, OpenAI, files, model lists and Vertex express, each authenticated with ``auth``."""

    def send(
        method: str, url: str, headers: dict[str, str] | None = None, **kw: object
    ) -> Awaitable[httpx.Response]:
        how = auth()
        how.setdefault("headers", {}).update(headers or {})
        return gw.request(method, url, **how, **kw)  # type: ignore[arg-type]

    answers = {
        "native": await send("POST", "/v1beta/models/gemini-2.5-flash:generateContent", json=HELLO),
        "native stream": await send(
            "POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", json=HELLO
        ),
        "openai chat": await send("POST", "/v1/chat/completions", json=CHAT),
        "openai passthrough": await send("POST", "/openai/v1/chat/completions", json=CHAT),
        "native models": await send("GET", "/v1beta/models"),
        "openai models": await send("GET", "/hf/v1/models"),
        "vertex": await send(
            "POST",
            "/vertex-express/v1beta1/publishers/google/models/gemini-2.5-flash:generateContent",
            json=HELLO,
        ),
        "upload": await send("POST", "/upload/v1beta/files", headers=UPLOAD, content=NOTES),
        "files": await send("GET", "/v1beta/files"),
    }
    name = answers["upload"].json()["file"]["name"]
    answers["file"] = await send("GET", f"/v1beta/{name}")
    answers["file delete"] = await send("DELETE", f"/v1beta/{name}")
    return answers


@pytest.mark.parametrize("style", list(STYLES))
async def test_no_client_token_reaches_the_upstream(
    fake_pool: tuple[FakeKeyPool, int], upstream: Running, style: str
) -> None:
    live = {
        "ALLOWED_TOKENS": [SECRET],
        "VERTEX_EXPRESS_BASE_URL": f"{upstream.url}/v1beta1/publishers/google",
    }
    async with gateway_client(fake_pool, upstream, [POOL_KEY], **live) as gw:
        upstream.fake.seen.clear()
        answers = await every_kind_of_call(gw, STYLES[style])
    assert {what: a.status_code for what, a in answers.items()} == dict.fromkeys(answers, 200)
    seen = upstream.fake.seen
    # Every kind of call went upstream (the model list is fetched once, then served from a cache;
    # a file list is the gateway's own).
    assert {(r.method, r.path.rsplit("/", 1)[0] if "/files/" in r.path else r.path) for r in seen} == UPSTREAM
    for request in seen:
        assert SECRET not in request.wire(), request.wire()
        pool_key = request.header("x-goog-api-key") or request.header("authorization").removeprefix("Bearer ")
        assert pool_key == POOL_KEY, request.wire()
