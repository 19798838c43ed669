"""How a dialect turns upstream answers into its own; the base passes Gemini's through untouched."""

from collections.abc import AsyncIterator

from starlette.responses import Response, StreamingResponse

from gempool.gateway.errors import Dialect, error_response

STREAM_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class Adapter:
    """Gemini-native: answers, streams and upstream errors reach the client as Google sent them.

    Other dialects subclass it (OpenAI translates each of the three).
    """

    dialect = Dialect.GEMINI

    def success(self, body: bytes, content_type: str) -> Response:
        return Response(body, status_code=200, media_type=content_type)

    def stream(self, chunks: AsyncIterator[bytes], content_type: str) -> Response:
        return StreamingResponse(chunks, media_type=content_type, headers=STREAM_HEADERS)

    def failure(self, status: int, body: bytes, content_type: str) -> Response:
        return Response(body, status_code=status, media_type=content_type)

    def no_answer(self, message: str) -> Response:
        """Every attempt ended without an HTTP answer (timeouts, connection errors)."""
        return error_response(self.dialect, 502, message)


PASSTHROUGH = Adapter()
