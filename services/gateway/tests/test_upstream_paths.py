"""No client text climbs out of its upstream path segment.

The gateway runs under uvicorn with httptools (as in production), so each request arrives as raw
bytes and is decoded exactly as a real one would be; the fake upstream records every path it
receives. A refused request answers 400/404 in the caller's dialect and reaches nothing upstream.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import orjson
import pytest
import uvicorn

from gempool.common.live import LiveSettings
from gempool.fakegemini.server import Running
from gempool.gateway.app import create_app
from gempool.gateway.errors import Dialect
from gempool.gateway.paths import clean
from gempool.gateway.pipeline.proxy import Call, forward
from gempool.gateway.runtime import Live, Runtime
from gempool.gateway.settings import GatewaySettings

from .conftest import FakeKeyPool

TOKEN = "t"
NATIVE = {"x-goog-api-key": TOKEN}
BEARER = {"authorization": f"Bearer {TOKEN}"}
PROMPT = b'{"contents": [{"parts": [{"text": "hi"}]}]}'
# Ways to write "leave this segment" in a URL path.
TRICKS = [
    "../files",
    "..%2FcachedContents",
    "%2e%2e/files",
    "..%2Ffiles",
    "%2E%2E%2Ffiles",
    "%252e%252e%252ffiles",
    "..%5Cfiles",
    "..\\files",
    "..",
    "%2e%2e",
    "gemini-2.5-flash%3Fx=1",
    "gemini-2.5-flash%23x",
    "gemini-2.5-flash%2F..%2F..%2Fv1beta%2Ffiles",
]
# Routes whose path carries a model name, a method or a file id: (method, template, headers).
ROUTES = [
    ("GET", "/v1beta/models/{x}", NATIVE),
    ("GET", "/v1/models/{x}", NATIVE),
    ("POST", "/v1beta/models/{x}:generateContent", NATIVE),
    ("POST", "/v1beta/models/{x}:countTokens", NATIVE),
    ("POST", "/gemini/v1beta/models/{x}:streamGenerateContent?alt=sse", NATIVE),
    ("POST", "/v1beta/models/gemini-2.5-flash:{x}", NATIVE),
    ("POST", "/vertex-express/v1beta/models/{x}:generateContent", NATIVE),
    ("POST", "/vertex-express/v1beta1/publishers/google/models/{x}:generateContent", NATIVE),
    ("GET", "/vertex-express/v1beta/models/{x}", NATIVE),
    ("GET", "/v1beta/files/{x}", NATIVE),
    ("DELETE", "/v1beta/files/{x}", NATIVE),
    ("GET", "/openai/v1/{x}", BEARER),
    ("POST", "/openai/v1/{x}", BEARER),
    ("GET", "/v1/models/{x}", BEARER),
]
# The model catalog (refreshed for some model routes) is the one other upstream path allowed.
CATALOG = ("/v1beta/models?", "/v1/models?")


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # signals stay pytest's
        yield


@pytest.fixture
async def gateway(fake_pool: tuple[FakeKeyPool, int], upstream: Running) -> AsyncIterator[int]:
    """The gateway app served by uvicorn + httptools on a free port, in this test's loop."""
    pool, port = fake_pool
    pool.keys = ["ok-path-key-1"]
    settings = GatewaySettings(
        KEYPOOL_ADDR=f"127.0.0.1:{port}", CONFIG_ADDR="127.0.0.1:1", IMAGEHOST_ADDR="127.0.0.1:1"
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        live = {"BASE_URL": f"{upstream.url}/v1beta", "ALLOWED_TOKENS": [TOKEN], "MAX_RETRIES": 0}
        live["VERTEX_EXPRESS_BASE_URL"] = f"{upstream.url}/v1beta1/publishers/google"
        live["VERTEX_API_KEYS"] = ["ok-vertex-1"]
        app.state.rt.live = Live.build(LiveSettings.model_validate(live))
        config = uvicorn.Config(app, host="127.0.0.1", port=0, http="httptools", lifespan="off")
        config.log_level = "warning"
        server = _Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        try:
            yield server.servers[0].sockets[0].getsockname()[1]
        finally:
            server.should_exit = True
            await task


async def raw(
    port: int, method: str, target: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, bytes]:
    """One request with ``target`` sent byte for byte (no client normalises it); (status, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = [f"{method} {target} HTTP/1.1", "host: gw", "connection: close", f"content-length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    if body:
        head.append("content-type: application/json")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def outside(upstream: Running) -> list[str]:
    return [p for p in upstream.fake.paths if not p.startswith(CATALOG)]


async def test_cached_contents_is_no_route_of_the_gateway(gateway: int, upstream: Running) -> None:
    upstream.fake.seen.clear()
    status, answer = await raw(gateway, "POST", "/v1beta/cachedContents", NATIVE, PROMPT)
    assert status == 404 and orjson.loads(answer)["error"]["status"] == "NOT_FOUND"
    assert upstream.fake.paths == []


async def test_the_recorder_sees_an_ordinary_call(gateway: int, upstream: Running) -> None:
    upstream.fake.seen.clear()
    status, _ = await raw(gateway, "POST", "/v1beta/models/gemini-2.5-flash:generateContent", NATIVE, PROMPT)
    assert status == 200
    assert upstream.fake.paths == ["/v1beta/models/gemini-2.5-flash:generateContent"]


@pytest.mark.parametrize(("method", "template", "headers"), ROUTES)
async def test_no_trick_leaves_its_segment(
    gateway: int, upstream: Running, method: str, template: str, headers: dict[str, str]
) -> None:
    for trick in TRICKS:
        upstream.fake.seen.clear()
        body = PROMPT if method == "POST" else b""
        status, answer = await raw(gateway, method, template.format(x=trick), headers, body)
        assert outside(upstream) == [], f"{trick!r} reached the upstream at {upstream.fake.paths}"
        assert status in (400, 403, 404), (trick, status, answer)
        error = orjson.loads(answer)["error"]
        assert ("type" in error) is (headers is BEARER), "the caller's dialect"


BAD_MODELS = ["../files", "models/../../v1beta/files", "..", "gemini?x", "gemini#x", "a\\b", "gemini/x"]


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
        ("/v1/embeddings", {"input": "hi"}),
        ("/v1/images/generations", {"prompt": "a cat"}),
        ("/v1/audio/speech", {"input": "hi", "voice": "alloy"}),
    ],
)
async def test_a_model_named_in_an_openai_body_stays_a_model(
    gateway: int, upstream: Running, path: str, fields: dict[str, object]
) -> None:
    for model in BAD_MODELS:
        upstream.fake.seen.clear()
        status, answer = await raw(gateway, "POST", path, BEARER, orjson.dumps(fields | {"model": model}))
        assert outside(upstream) == [], model
        assert status == 400 and orjson.loads(answer)["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "path",
    [
        "/v1beta/models/../files",
        "/v1beta/models/./m:generateContent",
        "/v1beta/models/m%2F..:generateContent",
        "/v1beta/models/m?x:generateContent",
        "/v1beta/models/m#x:generateContent",
        "/v1beta/models/a\\..\\files",
        "/v1beta//files",
    ],
)
async def test_the_pipeline_refuses_a_path_any_route_let_through(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], upstream: Running, path: str
) -> None:
    pool, _ = fake_pool
    pool.keys = ["ok-guard-1"]
    upstream.fake.seen.clear()
    call = Call(Dialect.OPENAI, "test", "m", path, body=PROMPT)
    response = await forward(runtime, runtime.live, call)  # type: ignore[arg-type]
    assert response.status_code == 400 and b"invalid_request_error" in bytes(response.body)
    assert upstream.fake.paths == [] and pool.leases == []


def test_google_shaped_segments_pass() -> None:
    for path in (
        "/v1beta/models/gemini-2.5-flash:generateContent",
        "/v1/models/text-embedding-004:batchEmbedContents",
        "/models/claude-3-5-sonnet@20240620:generateContent",
        "/upload/v1beta/files",
        "/v1beta/files/abc-123",
        "/v1beta/openai/chat/completions",
    ):
        assert clean(path), path
