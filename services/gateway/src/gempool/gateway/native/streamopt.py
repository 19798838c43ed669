"""STREAM_OPTIMIZER_ENABLED: a long text event goes out as many small ones at a steady pace.

gemini-balance's pacing: texts up to STREAM_SHORT_TEXT_THRESHOLD characters go out one character
at a time STREAM_MAX_DELAY apart; from STREAM_LONG_TEXT_THRESHOLD, STREAM_CHUNK_SIZE characters at
a time STREAM_MIN_DELAY apart; in between, one character at a time with a delay between the two
(log scale). Only SSE events whose one candidate holds text parts alone are split; the pieces
carry the event's ids, the last one everything else it had (finishReason, usage, grounding).
Every other event passes as Google sent it.
"""

import asyncio
import math
import re
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.responses import Response

from gempool.common.live import LiveSettings
from gempool.gateway.pipeline.adapter import Adapter

_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


async def sse_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[tuple[bytes, bytes]]:
    """``(event, terminator)`` for each whole SSE event of a byte stream; a tail without one last."""
    buffer = b""
    async for chunk in chunks:
        buffer += chunk
        while match := _EVENT_END.search(buffer):
            yield buffer[: match.start()], match.group(0)
            buffer = buffer[match.end() :]
    if buffer:
        yield buffer, b""


def delay_for(length: int, s: LiveSettings) -> float:
    short, long = s.STREAM_SHORT_TEXT_THRESHOLD, s.STREAM_LONG_TEXT_THRESHOLD
    if length <= short:
        return s.STREAM_MAX_DELAY
    if length >= long:
        return s.STREAM_MIN_DELAY
    ratio = (math.log(length) - math.log(short)) / (math.log(long) - math.log(short))
    return s.STREAM_MAX_DELAY - ratio * (s.STREAM_MAX_DELAY - s.STREAM_MIN_DELAY)


def pieces(text: str, s: LiveSettings) -> list[str]:
    size = s.STREAM_CHUNK_SIZE if len(text) >= s.STREAM_LONG_TEXT_THRESHOLD else 1
    return [text[i : i + size] for i in range(0, len(text), size)]


def split_event(event: Any, s: LiveSettings) -> tuple[list[Any], int] | None:
    """The smaller events one event becomes and its text's length, or None when it stays whole."""
    candidates = event.get("candidates") if isinstance(event, dict) else None
    if not isinstance(candidates, list) or len(candidates) != 1 or not isinstance(candidates[0], dict):
        return None
    content = candidates[0].get("content") or {}
    parts = content.get("parts") or []
    if not parts or any(not isinstance(p, dict) or set(p) != {"text"} for p in parts):
        return None  # thoughts, signatures, calls, media: not ours to cut
    text = "".join(str(p["text"]) for p in parts)
    cut = pieces(text, s)
    if len(cut) < 2:
        return None
    ids = {k: event[k] for k in ("modelVersion", "responseId") if k in event}
    head = {
        "content": {"parts": [], "role": content.get("role", "model")},
        "index": candidates[0].get("index", 0),
    }
    out = [{"candidates": [_with_text(head, piece)], **ids} for piece in cut[:-1]]
    last = dict(event)
    last["candidates"] = [_with_text(candidates[0], cut[-1])]
    return [*out, last], len(text)


def _with_text(candidate: dict[str, Any], text: str) -> dict[str, Any]:
    content = dict(candidate.get("content") or {})
    content["parts"] = [{"text": text}]
    return {**candidate, "content": content}


class StreamOptimizer(Adapter):
    """Paces SSE text; everything else goes to the wrapped adapter unchanged."""

    def __init__(self, inner: Adapter, settings: LiveSettings) -> None:
        self.inner, self.settings = inner, settings
        self.dialect = inner.dialect

    def success(self, body: bytes, content_type: str) -> Response:
        return self.inner.success(body, content_type)

    def failure(self, status: int, body: bytes, content_type: str) -> Response:
        return self.inner.failure(status, body, content_type)

    def no_answer(self, message: str) -> Response:
        return self.inner.no_answer(message)

    def stream(self, chunks: AsyncIterator[bytes], content_type: str) -> Response:
        if "event-stream" not in content_type:
            return self.inner.stream(chunks, content_type)
        return self.inner.stream(self._paced(chunks), content_type)

    async def _paced(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for raw, end in sse_events(chunks):
            split = _split_raw(raw, self.settings)
            if split is None:
                yield raw + end
                continue
            smaller, length = split
            delay = delay_for(length, self.settings)
            for index, event in enumerate(smaller):
                if index:
                    await asyncio.sleep(delay)
                yield b"data: " + orjson.dumps(event) + (end or b"\r\n\r\n")


def _split_raw(raw: bytes, s: LiveSettings) -> tuple[list[Any], int] | None:
    lines = raw.splitlines()
    if not lines or any(not line.startswith(b"data:") for line in lines):
        return None
    try:
        event = orjson.loads(b"\n".join(line[5:].lstrip() for line in lines))
    except orjson.JSONDecodeError:
        return None
    return split_event(event, s)
