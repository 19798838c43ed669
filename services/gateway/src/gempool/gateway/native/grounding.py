"""SHOW_SEARCH_LINK: the sources Google Search grounded an answer on, appended as one text part.

Only ``-search`` requests get it, answered whole or streamed (SSE with ``alt=sse``, Google's JSON
array without). Nothing Google sent is removed or changed: a candidate that carries
``groundingMetadata.groundingChunks`` gains one more part at the end of its content. Streams are
read event by event (object by object); only one that mentions ``groundingMetadata`` is parsed, and
every other byte passes as Google sent it.
"""

from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.responses import Response

from gempool.gateway.native.streamopt import sse_events
from gempool.gateway.pipeline.adapter import Adapter
from gempool.gateway.pipeline.jsonstream import ArrayObjects


def sources_text(candidate: dict[str, Any]) -> str:
    """``\\n\\nSources:\\n1. [title](uri)...`` for a candidate's web sources, or ``""``."""
    chunks = ((candidate.get("groundingMetadata") or {}).get("groundingChunks")) or []
    links: list[str] = []
    for chunk in chunks:
        web = chunk.get("web") if isinstance(chunk, dict) else None
        if isinstance(web, dict) and web.get("uri"):
            links.append(f"{len(links) + 1}. [{web.get('title') or web['uri']}]({web['uri']})")
    return "\n\nSources:\n" + "\n".join(links) if links else ""


def add_sources(answer: Any) -> bool:
    """Append the sources part to every grounded candidate; True when something was added."""
    added = False
    for candidate in answer.get("candidates") or () if isinstance(answer, dict) else ():
        text = sources_text(candidate) if isinstance(candidate, dict) else ""
        if text:
            content = candidate.setdefault("content", {"role": "model"})
            content["parts"] = [*(content.get("parts") or []), {"text": text}]
            added = True
    return added


def _with_sources(raw: bytes) -> bytes:
    try:
        answer = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw
    return orjson.dumps(answer) if add_sources(answer) else raw


def _sse_event(raw: bytes) -> bytes:
    """One SSE event (without its blank line), sources added when it is grounded."""
    if b"groundingMetadata" not in raw:
        return raw
    lines = raw.splitlines()
    data = b"\n".join(line[5:].lstrip() for line in lines if line.startswith(b"data:"))
    rest = [line for line in lines if not line.startswith(b"data:")]
    return b"\n".join([*rest, b"data: " + _with_sources(data)])


class SearchLinks(Adapter):
    """Gemini-native answers with the grounding sources appended (both kinds of stream included)."""

    def success(self, body: bytes, content_type: str) -> Response:
        return super().success(_with_sources(body) if b"groundingMetadata" in body else body, content_type)

    def stream(self, chunks: AsyncIterator[bytes], content_type: str) -> Response:
        if "event-stream" not in content_type:
            return super().stream(_array_with_sources(chunks), content_type)
        return super().stream(_sse_with_sources(chunks), content_type)


async def _sse_with_sources(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    async for raw, end in sse_events(chunks):
        yield _sse_event(raw) + end


async def _array_with_sources(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    objects = ArrayObjects()
    async for chunk in chunks:
        out = b"".join(
            _with_sources(piece) if is_object and b"groundingMetadata" in piece else piece
            for piece, is_object in objects.feed(chunk)
        )
        if out:
            yield out
    rest = objects.rest()
    if rest:
        yield rest


SEARCH_LINKS = SearchLinks()
