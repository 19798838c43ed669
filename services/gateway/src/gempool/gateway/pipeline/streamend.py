"""How a stream that already began ends when it cannot finish: with an error the client sees.

Once the first byte went out the status is 200 and no other key may take over (its text would
follow the first key's), so a stream the upstream cuts, one that stays silent for ``TIME_OUT``, and
one still running when the gateway's shutdown grace is over all end the same way: one error event
in the caller's dialect after what was relayed, a count in ``gempool_gateway_streams_cut``, and a
request log record with the error's status (and an error log record saying why), never a 200.

The error event, by stream kind (the official SDKs raise each one):
- Gemini SSE: ``data: {"error": {"code", "message", "status"}}`` (google-genai raises ``APIError``);
- Gemini JSON array: the same object as the array's last element, then ``]``;
- OpenAI: ``data: {"error": {"message", "type", "param", "code"}}`` then ``data: [DONE]`` (openai
  raises ``APIError``).
An event the upstream left half-sent is closed first; it does not parse, which is an error too.
"""

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from gempool.gateway.errors import GOOGLE_STATUS, Dialect
from gempool.gateway.logs.ship import TAIL, Trace
from gempool.gateway.runtime import Runtime
from gempool.gateway.shutdown import is_stop

if TYPE_CHECKING:
    from gempool.gateway.pipeline.proxy import Call

Chunk = str | bytes | memoryview
EVENT_ENDS = (b"\n\n", b"\r\r", b"\r\n\r\n")


@dataclass(frozen=True)
class Cut:
    """Why a stream ended early: HTTP status for the logs, a code, the client's message."""

    reason: str  # metric label: upstream, timeout, shutdown
    status: int
    code: str
    message: str


class StreamCut(Exception):
    """Raised by the relay when the upstream stream breaks after the first byte went out."""

    def __init__(self, cut: Cut) -> None:
        super().__init__(cut.message)
        self.cut = cut


UPSTREAM_CUT = Cut(
    "upstream",
    502,
    "STREAM_CUT",
    "The upstream stream ended before the answer was complete: the upstream connection was cut. "
    "Send the request again.",
)
UPSTREAM_SILENT = Cut(
    "timeout",
    504,
    "STREAM_TIMEOUT",
    "The upstream stream ended before the answer was complete: the upstream sent nothing for "
    "TIME_OUT seconds. Send the request again.",
)
SHUTDOWN = Cut(
    "shutdown",
    503,
    "SHUTDOWN",
    "The stream ended before the answer was complete: this gempool gateway is restarting and its "
    "shutdown grace ran out. Send the request again.",
)


def error_event(call: "Call", cut: Cut, tail: bytes) -> bytes:
    """The bytes that end the stream with ``cut``, in the stream's own framing."""
    if call.dialect is Dialect.OPENAI:
        error = {"message": cut.message, "type": "api_error", "param": None, "code": cut.code.lower()}
        return _close_event(tail) + b"data: " + orjson.dumps({"error": error}) + b"\n\ndata: [DONE]\n\n"
    google = {"error": {"code": cut.status, "message": cut.message, "status": GOOGLE_STATUS[cut.status]}}
    if call.sse:
        return _close_event(tail) + b"data: " + orjson.dumps(google) + b"\r\n\r\n"
    return b",\r\n" + orjson.dumps(google) + b"\n]"


def _close_event(tail: bytes) -> bytes:
    return b"" if not tail or tail.endswith(EVENT_ENDS) else b"\r\n\r\n"


async def logged_stream(
    rt: Runtime,
    call: "Call",
    trace: Trace,
    status: int,
    source: AsyncIterable[Chunk],
    started: float,
    first_byte: float,
) -> AsyncIterator[Chunk]:
    """The stream as it was, keeping its last bytes (token usage) for the request log at its end,
    ended with an error event when it cannot finish (see the module's doc)."""
    tail, cut, finished = b"", None, False
    task = rt.drain.track()
    try:
        async for chunk in source:
            tail = (tail + (chunk.encode() if isinstance(chunk, str) else bytes(chunk)))[-TAIL:]
            yield chunk
        finished = True
    except StreamCut as exc:
        cut = exc.cut
    except asyncio.CancelledError as exc:
        if not is_stop(exc) or task is None:
            raise
        task.uncancel()
        cut = SHUTDOWN
    finally:
        rt.drain.untrack(task)
        if cut is None and not finished and rt.drain.expired:
            # stopped while the client was slow to read: nothing more can be sent, but it is told
            # apart from a client that left
            rt.metrics.streams_cut.labels(SHUTDOWN.reason).inc()
            _log(rt, call, trace, SHUTDOWN, started, first_byte)
        elif cut is None:
            rt.logs.request(call, trace, status, first_byte, time.perf_counter() - started, tail)
    if cut is not None:
        rt.metrics.streams_cut.labels(cut.reason).inc()
        _log(rt, call, trace, cut, started, first_byte)
        yield error_event(call, cut, tail)


def _log(rt: Runtime, call: "Call", trace: Trace, cut: Cut, started: float, first_byte: float) -> None:
    rt.logs.request(call, trace, cut.status, first_byte, time.perf_counter() - started, b"")
    rt.logs.cut(call, trace, cut.status, cut.code, cut.message)
