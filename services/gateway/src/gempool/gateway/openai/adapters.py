"""OpenAI's dialect in the shared attempt loop: answers, streams and errors translated from Gemini."""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from gempool.gateway.errors import Dialect, error_response
from gempool.gateway.openai import answers
from gempool.gateway.openai.failures import upstream_error
from gempool.gateway.openai.media import upload_all
from gempool.gateway.openai.stream import ChunkWriter, SseReader
from gempool.gateway.pipeline.adapter import STREAM_HEADERS, Adapter
from gempool.gateway.runtime import Runtime

JSON = "application/json"


class Deferred(Response):
    """A 200 JSON answer whose body is made when it is sent (after generated images are uploaded)."""

    def __init__(self, make: Callable[[], Awaitable[bytes]]) -> None:
        super().__init__(b"", status_code=200, media_type=JSON)
        self._make = make

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.body = await self._make()
        self.init_headers()
        await super().__call__(scope, receive, send)


def json_response(payload: Any) -> Response:
    return Response(orjson.dumps(payload), status_code=200, media_type=JSON)


class OpenAIAdapter(Adapter):
    """Upstream errors in OpenAI's shape; subclasses shape the answers."""

    dialect = Dialect.OPENAI

    def failure(self, status: int, body: bytes, content_type: str) -> Response:
        return upstream_error(status, body)


class ChatAdapter(OpenAIAdapter):
    """``generateContent`` / ``streamGenerateContent?alt=sse`` -> chat completion (chunks)."""

    def __init__(self, rt: Runtime, view: answers.View, base_url: str, streaming: bool) -> None:
        self.rt, self.view, self.base_url, self.streaming = rt, view, base_url, streaming

    def success(self, body: bytes, content_type: str) -> Response:
        try:
            answer = orjson.loads(body)
        except orjson.JSONDecodeError:
            return error_response(Dialect.OPENAI, 502, "The upstream answer was not JSON.")
        found = answers.images(answer)
        if not found:
            return json_response(answers.completion(answer, self.view, {}))

        async def render() -> bytes:
            links = await upload_all(self.rt, found, self.base_url)
            return orjson.dumps(answers.completion(answer, self.view, links))

        return Deferred(render)

    def stream(self, chunks: AsyncIterator[bytes], content_type: str) -> Response:
        return StreamingResponse(
            self._translate(chunks), media_type="text/event-stream", headers=STREAM_HEADERS
        )

    async def _translate(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        reader, writer = SseReader(), ChunkWriter(self.view)
        try:
            async for chunk in chunks:
                for event in reader.feed(chunk):
                    for out in await self._event(writer, event):
                        yield out
        finally:
            # A client that leaves closes this generator; close the upstream relay now too, so
            # the connection is let go and the attempt reported at once, not when it is collected.
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()
        for event in reader.close():
            for out in await self._event(writer, event):
                yield out
        for out in writer.end():
            yield out

    async def _event(self, writer: ChunkWriter, event: Any) -> list[bytes]:
        found = answers.images(event) if isinstance(event, dict) else []
        links = await upload_all(self.rt, found, self.base_url) if found else {}
        return writer.event(event, links)

    def failure(self, status: int, body: bytes, content_type: str) -> Response:
        if status != 200:
            return upstream_error(status, body)
        # Every key gave an empty (or blocked) answer: show what the last one said.
        if self.streaming:
            return self.stream(_once(body + b"\n\n"), content_type)
        try:
            answer = orjson.loads(body)
        except orjson.JSONDecodeError:
            answer = None
        if isinstance(answer, dict) and (answer.get("candidates") or answer.get("promptFeedback")):
            return self.success(body, content_type)
        return error_response(Dialect.OPENAI, 502, "The upstream gave an empty answer on every attempt.")


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
