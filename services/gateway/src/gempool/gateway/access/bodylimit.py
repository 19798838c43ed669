"""The size limit on request bodies, outside everything else (routing, auth, the native fast path).

A body over the limit is answered 413 before any route or token check runs, so nobody, signed in or
not, can make the gateway hold more than the limit in memory. A declared ``Content-Length`` over the
limit is refused without reading a byte; a body that declares none (chunked) is read here up to the
limit and handed on whole, since every route reads its body whole anyway. Requests within the limit
that declare their length pass through untouched: the hot path pays one header lookup.
"""

from dataclasses import dataclass

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gempool.gateway.access.auth import presented_token
from gempool.gateway.errors import Dialect, error_response

ADMIN_PREFIX = "/api/admin/"
OPENAI_PREFIXES = ("/hf/", "/openai/")


@dataclass(frozen=True)
class BodyLimits:
    default: int  # MAX_REQUEST_BYTES: every route but the admin API
    admin: int  # ADMIN_MAX_REQUEST_BYTES: the admin API (its import is the one large body)

    def of(self, path: str) -> int:
        return self.admin if path.startswith(ADMIN_PREFIX) else self.default


class TooLarge(Exception):
    """The body went over the limit while it was read."""


class BodyLimit:
    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.of(scope["path"])
        declared = _content_length(scope)
        if declared is not None:
            if declared > limit:
                await too_large(scope, limit)(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        if not _has_body(scope):
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_within(receive, limit)
        except TooLarge:
            await too_large(scope, limit)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


def _content_length(scope: Scope) -> int | None:
    """The declared length; a malformed one counts as over any limit (the server refuses most)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 1 << 62
    return None


def _has_body(scope: Scope) -> bool:
    return any(name == b"transfer-encoding" for name, _ in scope["headers"])


async def _read_within(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break  # the app sees the disconnect when it reads: nobody to answer
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body in one message, then the server's own messages (a streaming answer watches them for
    the client leaving)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def too_large(scope: Scope, limit: int) -> Response:
    """413 in the caller's dialect: Google's on native paths, OpenAI's on OpenAI's, the admin API's own."""
    path: str = scope["path"]
    message = f"The request body is larger than this gateway accepts ({limit} bytes) on {path}."
    if path.startswith(ADMIN_PREFIX):
        return Response(orjson.dumps({"detail": message}), status_code=413, media_type="application/json")
    return error_response(dialect_of(Request(scope)), 413, message)


def dialect_of(request: Request) -> Dialect:
    """The dialect a request speaks, judged from its path and how it sent its token."""
    path = request.url.path
    if path.startswith(OPENAI_PREFIXES):
        return Dialect.OPENAI
    if path.startswith("/v1/") and presented_token(request)[1] == "bearer":
        return Dialect.OPENAI
    return Dialect.GEMINI
