"""Fake streaming (FAKE_STREAM_ENABLED): a stream served from one non-streaming upstream call.

Long thinking can leave a stream silent for minutes, and proxies with idle timeouts cut it. Here
the upstream is asked with ``generateContent``; an answer within one keep-alive interval goes back
as it is (an error keeps its status). A slower one gets a 200 stream at once, a blank line every
FAKE_STREAM_EMPTY_DATA_INTERVAL_SECONDS (SSE parsers, the google-genai SDK's among them, skip
blank lines; JSON parsers skip whitespace), then the whole answer as one event. Retries on other
keys still happen inside that one call.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

from starlette.responses import Response, StreamingResponse

from gempool.common.tasks import stop_tasks
from gempool.gateway.pipeline.adapter import STREAM_HEADERS
from gempool.gateway.pipeline.proxy import Call, forward
from gempool.gateway.runtime import Live, Runtime

KEEP_ALIVE = b"\n"
SSE = "text/event-stream"


def non_streaming(call: Call) -> Call:
    """The same request as one ``generateContent`` call."""
    path = call.path.replace(":streamGenerateContent", ":generateContent")
    query = [q for q in call.query if q != ("alt", "sse")]
    return replace(call, path=path, query=query, stream=False, sse=False)


def framed(body: bytes, sse: bool) -> bytes:
    """A whole answer as the only event of a stream; multi-line JSON becomes multi-line SSE data."""
    if not sse:
        return b"[" + body.strip() + b"]"
    lines = body.strip().splitlines() or [b""]
    return b"".join(b"data: " + line + b"\n" for line in lines) + b"\n"


def as_stream(response: Response, sse: bool) -> Response:
    if response.status_code != 200:
        return response
    body = framed(bytes(response.body), sse)
    return Response(body, media_type=SSE if sse else "application/json", headers=STREAM_HEADERS)


async def fake_stream(rt: Runtime, live: Live, call: Call) -> Response:
    task = asyncio.create_task(forward(rt, live, non_streaming(call)))
    interval = live.settings.FAKE_STREAM_EMPTY_DATA_INTERVAL_SECONDS
    done, _ = await asyncio.wait({task}, timeout=interval)
    if done:
        return as_stream(task.result(), call.sse)
    media_type = SSE if call.sse else "application/json"
    return StreamingResponse(
        _keep_alive(task, interval, call.sse), media_type=media_type, headers=STREAM_HEADERS
    )


async def _keep_alive(task: "asyncio.Task[Response]", interval: float, sse: bool) -> AsyncIterator[bytes]:
    try:
        yield KEEP_ALIVE
        while not (await asyncio.wait({task}, timeout=interval))[0]:
            yield KEEP_ALIVE
        # A failure after the 200 went out: Google's error object, which SDKs raise from a stream.
        yield framed(bytes(task.result().body), sse)
    finally:
        await stop_tasks(task)
