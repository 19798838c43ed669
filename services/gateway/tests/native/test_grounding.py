"""SHOW_SEARCH_LINK: sources appended as one extra part; nothing else changes."""

from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.responses import StreamingResponse

from gempool.gateway.native.grounding import SEARCH_LINKS, add_sources, sources_text

GROUNDED: dict[str, Any] = {
    "candidates": [
        {
            "content": {"parts": [{"text": "Echo"}], "role": "model"},
            "groundingMetadata": {
                "groundingChunks": [
                    {"web": {"uri": "https://a.example/x", "title": "a.example"}},
                    {"retrievedContext": {"uri": "gs://not-web"}},
                    {"web": {"uri": "https://b.example/y"}},
                ]
            },
        }
    ],
    "usageMetadata": {"totalTokenCount": 3},
}


def test_sources_text_lists_web_sources() -> None:
    text = sources_text(GROUNDED["candidates"][0])
    assert (
        text
        == "\n\nSources:\n1. [a.example](https://a.example/x)\n2. [https://b.example/y](https://b.example/y)"
    )
    assert sources_text({"content": {}}) == ""


def test_add_sources_appends_one_part_and_keeps_the_rest() -> None:
    answer = orjson.loads(orjson.dumps(GROUNDED))
    assert add_sources(answer)
    parts = answer["candidates"][0]["content"]["parts"]
    assert parts[0] == {"text": "Echo"} and parts[1]["text"].startswith("\n\nSources:")
    assert answer["usageMetadata"] == GROUNDED["usageMetadata"]
    assert answer["candidates"][0]["groundingMetadata"] == GROUNDED["candidates"][0]["groundingMetadata"]
    assert not add_sources({"candidates": [{"content": {"parts": [{"text": "x"}]}}]})


def test_plain_answer_bytes_are_untouched() -> None:
    body = b'{\n  "candidates": [{"content": {"parts": [{"text": "x"}]}}]\n}\n'
    assert SEARCH_LINKS.success(body, "application/json").body == body


async def test_sse_events_split_across_chunks() -> None:
    plain = b'data: {"candidates":[{"content":{"parts":[{"text":"a"}]}}]}\r\n\r\n'
    grounded = b"data: " + orjson.dumps(GROUNDED) + b"\r\n\r\n"
    stream = plain + grounded

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(stream), 7):
            yield stream[i : i + 7]

    response = SEARCH_LINKS.stream(chunks(), "text/event-stream")
    assert isinstance(response, StreamingResponse)
    out = b"".join([c async for c in response.body_iterator])  # type: ignore[misc]
    first, second, end = out.split(b"\r\n\r\n")
    assert first + b"\r\n\r\n" == plain and end == b""
    parts = orjson.loads(second.removeprefix(b"data: "))["candidates"][0]["content"]["parts"]
    assert [p["text"][:10] for p in parts] == ["Echo", "\n\nSources:"]


async def test_json_array_stream_gets_sources_and_keeps_every_other_byte() -> None:
    plain = b'{\n  "candidates": [{"content": {"parts": [{"text": "a"}]}}]\n}'
    stream = b"[" + plain + b"\n,\r\n" + orjson.dumps(GROUNDED) + b"\n]"

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(stream), 5):
            yield stream[i : i + 5]

    response = SEARCH_LINKS.stream(chunks(), "application/json")
    assert isinstance(response, StreamingResponse)
    out = b"".join([c async for c in response.body_iterator])  # type: ignore[misc]
    assert out.startswith(b"[" + plain + b"\n,\r\n") and out.endswith(b"\n]")
    first, second = orjson.loads(out)
    assert first == orjson.loads(plain)
    parts = second["candidates"][0]["content"]["parts"]
    assert parts[0] == {"text": "Echo"} and parts[1]["text"].startswith("\n\nSources:\n1. [a.example]")
    second["candidates"][0]["content"]["parts"] = parts[:1]
    assert second == GROUNDED  # nothing else changed
