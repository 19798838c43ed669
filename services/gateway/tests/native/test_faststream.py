"""Fake streaming: keep-alives while a slow non-streaming call runs, then the whole answer."""

import orjson
from starlette.responses import StreamingResponse

from gempool.fakegemini.behaviour import Behaviour
from gempool.fakegemini.server import Running
from gempool.gateway.errors import Dialect
from gempool.gateway.native.faststream import fake_stream, framed
from gempool.gateway.pipeline.proxy import Call
from gempool.gateway.runtime import Live, Runtime

from ..conftest import FakeKeyPool

BODY = orjson.dumps({"contents": [{"role": "user", "parts": [{"text": "think"}]}]})


def stream_call(model: str = "gemini-2.5-pro", sse: bool = True) -> Call:
    return Call(
        Dialect.GEMINI,
        "test",
        model,
        f"/v1beta/models/{model}:streamGenerateContent",
        body=BODY,
        query=[("alt", "sse")] if sse else [],
        stream=True,
        sse=sse,
        check_empty=True,
        headers={"content-type": "application/json"},
    )


def live(runtime: Runtime, interval: float) -> Live:
    settings = runtime.live.settings  # type: ignore[union-attr]
    update = {"FAKE_STREAM_ENABLED": True, "FAKE_STREAM_EMPTY_DATA_INTERVAL_SECONDS": interval}
    return Live.build(settings.model_copy(update=update))


def test_framing_keeps_multi_line_json_intact() -> None:
    body = b'{\n  "a": 1\n}\n'
    assert framed(body, sse=True) == b'data: {\ndata:   "a": 1\ndata: }\n\n'
    assert orjson.loads(framed(body, sse=False)) == [{"a": 1}]


async def test_slow_answer_gets_keep_alives_then_one_event(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    pool, _ = fake_pool
    pool.keys = ["ok-1"]
    upstream.fake.rules.models["gemini-2.5-pro"] = Behaviour("slow", 0.5)
    try:
        response = await fake_stream(runtime, live(runtime, 0.1), stream_call())
        assert isinstance(response, StreamingResponse) and response.status_code == 200
        chunks: list[bytes] = []
        async for chunk in response.body_iterator:
            assert isinstance(chunk, bytes)
            chunks.append(chunk)
    finally:
        upstream.fake.rules.models.clear()
    keep_alives = [c for c in chunks if c == b"\n"]
    assert len(keep_alives) >= 3 and chunks[: len(keep_alives)] == keep_alives
    data = b"".join(line[6:] for line in chunks[-1].splitlines() if line.startswith(b"data: "))
    assert orjson.loads(data)["candidates"][0]["content"]["parts"][0]["text"].startswith("Echo: think")
    assert [c["method"] for c in upstream.fake.calls] == ["generateContent"]


async def test_quick_failure_keeps_its_status(runtime: Runtime, fake_pool: tuple[FakeKeyPool, int]) -> None:
    pool, _ = fake_pool
    pool.keys = ["ok-1"]
    response = await fake_stream(runtime, live(runtime, 5.0), stream_call(model="no-such-model", sse=False))
    assert response.status_code == 404
    assert not isinstance(response, StreamingResponse)


async def test_a_slow_answer_still_running_when_the_shutdown_grace_ends_is_an_error_event(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    fake_pool[0].keys = ["ok-1"]
    upstream.fake.rules.models["gemini-2.5-pro"] = Behaviour("slow", 5.0)
    runtime.drain.grace = 0.3
    try:
        response = await fake_stream(runtime, live(runtime, 0.1), stream_call())
        runtime.drain.begin()
        assert isinstance(response, StreamingResponse)
        chunks = [c async for c in response.body_iterator if c != b"\n"]
    finally:
        upstream.fake.rules.models.clear()
    [event] = chunks
    assert isinstance(event, bytes)
    error = orjson.loads(event.removeprefix(b"data: "))["error"]
    assert error["code"] == 503 and "restarting" in error["message"]
