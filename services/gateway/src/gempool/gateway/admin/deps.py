"""Shared pieces of the admin API: the runtime, the admin check, gRPC calls as HTTP answers."""

import hashlib
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import grpc
from fastapi import Depends, HTTPException, Request, Response
from google.protobuf.message import Message

from gempool.api.config.v1 import config_pb2
from gempool.common.keys import mask
from gempool.gateway.runtime import Live, Runtime

T = TypeVar("T")

COOKIE = "gempool_admin"
SESSION_CACHE_SECONDS = 5.0  # how long a replica trusts a checked session before asking again
RPC_TIMEOUT = 30.0


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.rt
    return rt


Rt = Annotated[Runtime, Depends(runtime)]


def live_of(rt: Runtime) -> Live:
    if rt.live is None:
        raise HTTPException(503, "gempool is starting: waiting for settings from the config service")
    return rt.live


def digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def rpc(call: Awaitable[T]) -> T:
    """A gRPC call's answer, or the HTTP error that describes why there is none."""
    try:
        return await call
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
            raise HTTPException(422, exc.details() or "invalid request") from None
        raise HTTPException(503, f"a gempool service is unavailable ({exc.code().name}); try again") from None


def field_errors(errors: Any) -> HTTPException:
    """422 whose detail names each setting or field and what is wrong with it."""
    return HTTPException(422, [{"name": e.name, "message": e.message} for e in errors])


class SessionCache:
    """Sessions this replica checked lately: digest -> (trusted until, session end)."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[float, float]] = {}

    async def expires_at(self, rt: Runtime, session_digest: str) -> float | None:
        now = time.monotonic()
        known = self._known.get(session_digest)
        if known is not None and known[0] > now and known[1] > time.time():
            return known[1]
        reply = await rpc(
            rt.config.CheckSession(config_pb2.CheckSessionRequest(digest=session_digest), timeout=5)
        )
        if not reply.valid:
            self._known.pop(session_digest, None)
            return None
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[session_digest] = (now + SESSION_CACHE_SECONDS, reply.expires_at_unix)
        return float(reply.expires_at_unix)

    def forget(self, session_digest: str) -> None:
        self._known.pop(session_digest, None)


def session_cache(request: Request) -> SessionCache:
    cache: SessionCache | None = getattr(request.app.state, "admin_sessions", None)
    if cache is None:
        cache = request.app.state.admin_sessions = SessionCache()
    return cache


@dataclass(frozen=True)
class Admin:
    via: str  # "session" or "bearer"
    client: str
    expires_at: float = 0.0

    @property
    def actor(self) -> str:
        return f"admin:{self.via}@{self.client}"


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def require_admin(request: Request, rt: Rt) -> Admin:
    """The admin token as a Bearer, or a live session cookie; anything else is a 401."""
    live = live_of(rt)
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        if live.admin_tokens.check(value.strip()):
            return Admin("bearer", client_of(request))
        raise HTTPException(401, "The admin token is not valid.", headers={"www-authenticate": "Bearer"})
    session_id = request.cookies.get(COOKIE, "")
    if session_id:
        expires = await session_cache(request).expires_at(rt, digest(session_id))
        if expires is not None:
            return Admin("session", client_of(request), expires)
    raise HTTPException(
        401,
        "Log in with POST /api/admin/login, or send Authorization: Bearer <AUTH_TOKEN>.",
        headers={"www-authenticate": "Bearer"},
    )


AdminUser = Annotated[Admin, Depends(require_admin)]


def no_store(response: Response) -> None:
    response.headers["cache-control"] = "no-store"


def masked(value: Any) -> Any:
    """A secret setting's value as the panel may show it."""
    if isinstance(value, str):
        return mask(value) if value else ""
    if isinstance(value, list):
        return [masked(v) for v in value]
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    return value


def unix_or_none(value: float) -> float | None:
    return value or None


def plain(message: Message) -> dict[str, Any]:
    """A message as JSON-ready Python values (MessageToDict would turn int64 into strings)."""
    out: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.message_type is not None:
            value = [plain(v) for v in value] if field.is_repeated else plain(value)
        elif field.is_repeated:
            value = list(value)
        out[field.name] = value
    return out
