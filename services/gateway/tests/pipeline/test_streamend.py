"""A stream that began and cannot finish ends with an error event the client sees, is counted and is
logged as failed; no second key is tried once the first byte went out."""

import asyncio
import time
from typing import Any

import orjson
import pytest
from starlette.responses import Response

from gempool.fakegemini.behaviour import Behaviour
from gempool.fakegemini.server import Running
from gempool.gateway.access.tokens import CALLER, Caller
from gempool.gateway.errors import Dialect
from gempool.gateway.pipeline.proxy import Call, forward
from gempool.gateway.runtime import Live, Runtime

from ..conftest import FakeKeyPool
from ..logs.test_ship import FakeConfig, config, shipped  # noqa: F401  (fixtures)
from .test_proxy import body_of, generate


@pytest.fixture
def logs(request: pytest.FixtureRequest) -> FakeConfig:
    """What the runtime's log shipper delivered (to test_ship's fake config service)."""
    fake: FakeConfig = request.getfixturevalue("shipped")
    return fake


def with_settings(runtime: Runtime, **values: object) -> Live:
    assert runtime.live is not None
    runtime.live = Live.build(runtime.live.settings.model_copy(update=values))
    return runtime.live


def sse_events(body: bytes) -> list[Any]:
    events = [e for e in body.replace(b"\r\n", b"\n").split(b"\n\n") if e.strip()]
    return [orjson.loads(e.removeprefix(b"data: ")) for e in events]


def cut_count(runtime: Runtime, reason: str) -> float:
    value = runtime.metrics.registry.get_sample_value("gempool_gateway_streams_cut_total", {"reason": reason})
    return value or 0.0


async def logged(runtime: Runtime, fake: FakeConfig) -> tuple[list[int], list[str]]:
    assert await runtime.logs.flush()
    return [r.status for r in fake.requests()], [e.error_code for e in fake.errors()]


async def stream(runtime: Runtime, call: Call) -> tuple[Response, bytes]:
    assert runtime.live is not None
    CALLER.set(Caller("team-a", "token:1"))
    response = await forward(runtime, runtime.live, call)
    return response, await body_of(response)


def openai_stream() -> Call:
    call = generate(stream=True)
    call.dialect = Dialect.OPENAI
    return call


async def test_a_native_sse_stream_cut_by_the_upstream_ends_with_googles_error_event(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], upstream: Running, logs: FakeConfig
) -> None:
    fake_pool[0].keys = ["cut-1", "ok-2"]
    response, body = await stream(runtime, generate(stream=True))
    assert response.status_code == 200  # the first byte went out before the cut
    *answer, last = sse_events(body)
    assert "".join(str(e["candidates"][0]["content"]["parts"][0]["text"]) for e in answer) == "Echo: hi part1"
    assert last["error"] == {"code": 502, "message": last["error"]["message"], "status": "UNAVAILABLE"}
    assert "connection was cut" in last["error"]["message"]
    assert [c["key"] for c in upstream.fake.calls] == ["cut-1"]  # one upstream call, no second key
    assert cut_count(runtime, "upstream") == 1
    assert await logged(runtime, logs) == ([502], ["STREAM_CUT"])


async def test_a_cut_json_array_stream_ends_with_the_error_as_its_last_element(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], logs: FakeConfig
) -> None:
    fake_pool[0].keys = ["cut-1", "ok-2"]
    call = generate(stream=True)
    call.query, call.sse = [], False
    _, body = await stream(runtime, call)
    *answer, last = orjson.loads(body)  # still one valid JSON array
    assert len(answer) == 2 and last["error"]["status"] == "UNAVAILABLE"
    assert await logged(runtime, logs) == ([502], ["STREAM_CUT"])


async def test_a_cut_openai_stream_ends_with_openais_error_then_done(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], upstream: Running, logs: FakeConfig
) -> None:
    fake_pool[0].keys = ["cut-1", "ok-2"]
    _, body = await stream(runtime, openai_stream())  # as /openai/v1 relays Google's OpenAI stream
    frames = body.replace(b"\r\n", b"\n").split(b"\n\n")
    assert orjson.loads(frames[-3].removeprefix(b"data: "))["error"]["code"] == "stream_cut"
    assert frames[-2] == b"data: [DONE]" and frames[-1] == b""
    assert len(upstream.fake.calls) == 1
    assert await logged(runtime, logs) == ([502], ["STREAM_CUT"])


async def test_a_stream_silent_for_time_out_ends_with_a_deadline_error(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], upstream: Running, logs: FakeConfig
) -> None:
    with_settings(runtime, TIME_OUT=0.5)
    fake_pool[0].keys = ["stall-1", "ok-2"]
    started = time.monotonic()
    _, body = await stream(runtime, generate(stream=True))
    assert time.monotonic() - started < 5  # the fake stays silent for 60 s
    *answer, last = sse_events(body)
    assert len(answer) == 1
    assert last["error"]["code"] == 504 and last["error"]["status"] == "DEADLINE_EXCEEDED"
    assert [c["key"] for c in upstream.fake.calls] == ["stall-1"]
    assert cut_count(runtime, "timeout") == 1
    assert await logged(runtime, logs) == ([504], ["STREAM_TIMEOUT"])


async def test_time_out_applies_per_attempt_a_slow_key_is_left_for_the_next(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], upstream: Running, logs: FakeConfig
) -> None:
    with_settings(runtime, TIME_OUT=0.5)
    fake_pool[0].keys = ["slow-1", "ok-2"]
    upstream.fake.rules.keys["slow-1"] = Behaviour.parse("slow:3")
    started = time.monotonic()
    response, body = await stream(runtime, generate(stream=True))
    assert time.monotonic() - started < 2.5  # the slow key would have taken 3 s
    assert response.status_code == 200 and "error" not in sse_events(body)[-1]
    assert [c["key"] for c in upstream.fake.calls] == ["slow-1", "ok-2"]
    statuses, codes = await logged(runtime, logs)
    assert statuses == [200] and codes == ["TIMEOUT"]


async def test_a_stream_running_when_the_grace_runs_out_ends_with_a_shutdown_error(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], upstream: Running, logs: FakeConfig
) -> None:
    fake_pool[0].keys = ["ok-1"]
    upstream.fake.rules.chunks, upstream.fake.rules.chunk_delay = 20, 0.2
    runtime.drain.grace = 0.5
    try:
        response = await forward(runtime, runtime.live, generate(stream=True))  # type: ignore[arg-type]
        runtime.drain.begin()
        body = await body_of(response)
    finally:
        upstream.fake.rules.chunks, upstream.fake.rules.chunk_delay = 3, 0.0
    *answer, last = sse_events(body)
    assert 0 < len(answer) < 20
    assert last["error"]["code"] == 503 and "restarting" in last["error"]["message"]
    assert cut_count(runtime, "shutdown") == 1
    assert await logged(runtime, logs) == ([503], ["SHUTDOWN"])
    assert not runtime.drain.tasks
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_a_stream_that_ends_within_the_grace_is_untouched(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], upstream: Running, logs: FakeConfig
) -> None:
    fake_pool[0].keys = ["ok-1"]
    upstream.fake.rules.chunks, upstream.fake.rules.chunk_delay = 5, 0.1
    runtime.drain.grace = 5.0
    try:
        response = await forward(runtime, runtime.live, generate(stream=True))  # type: ignore[arg-type]
        runtime.drain.begin()
        body = await body_of(response)
    finally:
        upstream.fake.rules.chunks, upstream.fake.rules.chunk_delay = 3, 0.0
    assert len(sse_events(body)) == 5 and "error" not in sse_events(body)[-1]
    assert await logged(runtime, logs) == ([200], [])


async def test_a_request_waiting_for_its_answer_when_the_grace_runs_out_gets_a_503(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], upstream: Running, logs: FakeConfig
) -> None:
    fake_pool[0].keys = ["slow-1"]
    upstream.fake.rules.keys["slow-1"] = Behaviour.parse("slow:5")
    runtime.drain.grace = 0.3
    call = generate()
    call.dialect = Dialect.OPENAI
    runtime.drain.begin()
    response, body = await stream(runtime, call)
    assert response.status_code == 503
    assert "restarting" in orjson.loads(body)["error"]["message"]
    assert await logged(runtime, logs) == ([503], [])


async def test_a_request_cancelled_before_its_answer_is_still_logged_once(
    runtime: Runtime, fake_pool: tuple[FakeKeyPool, int], upstream: Running, logs: FakeConfig
) -> None:
    """A fake stream's client that leaves cancels the call behind it; the request log keeps it."""
    fake_pool[0].keys = ["slow-1"]
    upstream.fake.rules.keys["slow-1"] = Behaviour.parse("slow:5")
    CALLER.set(Caller("team-a", "token:1"))
    call = asyncio.create_task(forward(runtime, runtime.live, generate()))  # type: ignore[arg-type]
    await asyncio.sleep(0.3)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await logged(runtime, logs) == ([499], [])
