"""A suspended key's 403 quotes the whole key: every answer a client gets shows it masked."""

import logging

import orjson
import pytest

from gempool.common.logs import JsonFormatter
from gempool.fakegemini.behaviour import Behaviour
from gempool.fakegemini.server import Running
from gempool.gateway.openai.answers import View
from gempool.gateway.openai.stream import ChunkWriter

from ..conftest import FakeKeyPool
from ..gateway_app import TOKEN, gateway_client

KEY = "AIzaSySUSPENDED00000000000000000000x9Qk"
MASKED = "AIza...x9Qk"
PROMPT = {"contents": [{"parts": [{"text": "hi"}]}]}
CHAT = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]}
NATIVE = {"x-goog-api-key": TOKEN}
BEARER = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def suspended(upstream: Running) -> Running:
    upstream.fake.rules.keys[KEY] = Behaviour("suspended")
    return upstream


async def test_native_answer_and_the_pools_report_hold_only_the_masked_key(
    fake_pool: tuple[FakeKeyPool, int], suspended: Running
) -> None:
    async with gateway_client(fake_pool, suspended, [KEY]) as client:
        suspended.fake.rules.keys[KEY] = Behaviour("suspended")
        reply = await client.post(
            "/v1beta/models/gemini-2.5-flash:generateContent", json=PROMPT, headers=NATIVE
        )
    assert reply.status_code == 403
    error = reply.json()["error"]
    assert error["status"] == "PERMISSION_DENIED" and MASKED in error["message"]
    assert error["details"][0]["reason"] == "CONSUMER_SUSPENDED"
    assert KEY not in reply.text
    pool, _ = fake_pool
    assert pool.reports and all(KEY.encode() not in r.error_body for r in pool.reports)


@pytest.mark.parametrize("stream", [False, True])
async def test_openai_answer_holds_only_the_masked_key(
    fake_pool: tuple[FakeKeyPool, int], suspended: Running, stream: bool
) -> None:
    async with gateway_client(fake_pool, suspended, [KEY]) as client:
        suspended.fake.rules.keys[KEY] = Behaviour("suspended")
        reply = await client.post("/v1/chat/completions", json=CHAT | {"stream": stream}, headers=BEARER)
    assert reply.status_code == 403
    assert MASKED in reply.json()["error"]["message"] and KEY not in reply.text


async def test_a_stream_error_event_holds_only_the_masked_key(
    fake_pool: tuple[FakeKeyPool, int], suspended: Running
) -> None:
    """FAKE_STREAM_ENABLED: the 200 went out before the upstream's 403, which follows as an event."""
    live = {"FAKE_STREAM_ENABLED": True, "FAKE_STREAM_EMPTY_DATA_INTERVAL_SECONDS": 0.05}
    async with gateway_client(fake_pool, suspended, [KEY], **live) as client:
        suspended.fake.rules.keys[KEY] = Behaviour("suspended", 0.3)
        reply = await client.post(
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", json=PROMPT, headers=NATIVE
        )
    assert reply.status_code == 200
    data = [line.removeprefix("data: ") for line in reply.text.splitlines() if line.startswith("data: ")]
    event = orjson.loads("\n".join(data))
    assert MASKED in event["error"]["message"] and KEY not in reply.text


def test_an_error_inside_an_openai_stream_holds_only_the_masked_key() -> None:
    writer = ChunkWriter(View(model="m"))
    [frame] = writer.event({"error": {"message": f"Consumer 'api_key:{KEY}' suspended."}}, {})
    assert MASKED.encode() in frame and KEY.encode() not in frame


async def test_the_gateways_log_lines_hold_only_the_masked_key(
    fake_pool: tuple[FakeKeyPool, int], suspended: Running, caplog: pytest.LogCaptureFixture
) -> None:
    pool, _ = fake_pool
    async with gateway_client(fake_pool, suspended, [KEY]) as client:
        suspended.fake.rules.keys[KEY] = Behaviour("suspended")
        with caplog.at_level(logging.INFO):
            await client.post("/v1beta/models/gemini-2.5-flash:generateContent", json=PROMPT, headers=NATIVE)
    [failed] = [r for r in caplog.records if r.getMessage() == "upstream attempt failed"]
    assert failed.key == MASKED  # type: ignore[attr-defined]
    lines = [JsonFormatter("gateway").format(r) for r in caplog.records]
    assert all(KEY not in line for line in lines)
