"""Shared pieces of the admin API: the runtime, the admin check, gRPC calls as HTTP answers."""

import hashlib
import logging
import math
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import grpc
from fastapi import Depends, HTTPException, Request, Response
from google.protobuf.message import Message

from gempool.api.config.v1 import config_pb2
from gempool.common.digests import is_digest
from gempool.common.digests import shown as shown_digest
from gempool.common.keys import mask
from gempool.gateway.access.auth import client_of
from gempool.gateway.runtime import Live, Runtime

log = logging.getLogger(__name__)
T = TypeVar("T")

COOKIE = "gempool_admin"
RPC_TIMEOUT = 30.0


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.rt
    return rt


Rt = Annotated[Runtime, Depends(runtime)]


def live_of(rt: Runtime) -> Live:
    if rt.live is None:
        rt.metrics.refused.labels("starting").inc()
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


async def check_session(rt: Runtime, session_digest: str) -> float | None:
    """Ask the config service when a session ends (None: unknown or over)."""
    reply = await rpc(
        rt.config.CheckSession(config_pb2.CheckSessionRequest(digest=session_digest), timeout=5)
    )
    return float(reply.expires_at_unix) if reply.valid else None


@dataclass(frozen=True)
class Admin:
    via: str  # "session" or "bearer"
    client: str
    expires_at: float = 0.0

    @property
    def actor(self) -> str:
        return f"admin:{self.via}@{self.client}"


def locked_out(seconds: float) -> HTTPException:
    wait = max(1, math.ceil(seconds))
    later = f"{math.ceil(wait / 60)} minutes" if wait > 90 else f"{wait} seconds"
    return HTTPException(
        429,
        f"Too many wrong admin tokens from your address: admin sign-in is locked. Try again in {later}.",
        headers={"retry-after": str(wait)},
    )


async def admin_token_ok(request: Request, rt: Runtime, live: Live, token: str, via: str) -> bool:
    """Whether ``token`` is the admin token, counting wrong ones per client address.

    An address over ADMIN_LOGIN_MAX_FAILURES gets 429 before its token is looked at, so even the
    right token is refused then and a lucky guess tells nothing.
    """
    client, limits = client_of(request), live.settings
    window = limits.ADMIN_LOGIN_WINDOW_SECONDS
    attempt = await rt.login_throttle.attempt(client, limits.ADMIN_LOGIN_MAX_FAILURES, window)
    if attempt.locked_for > 0:
        raise locked_out(attempt.locked_for)
    if token and live.admin_tokens.check(token):
        await rt.login_throttle.succeeded(client)
        return True
    rt.metrics.admin_failures.labels(via).inc()
    if attempt.failures >= limits.ADMIN_LOGIN_MAX_FAILURES:
        rt.metrics.admin_lockouts.inc()
        extra = {"client": client, "via": via, "failures": attempt.failures, "seconds": window}
        log.warning("admin sign-in locked for a client address after wrong tokens", extra=extra)
    return False


async def require_admin(request: Request, rt: Rt) -> Admin:
    """The admin token as a Bearer, or a live session cookie; anything else is a 401."""
    live = live_of(rt)
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        if await admin_token_ok(request, rt, live, value.strip(), "bearer"):
            return Admin("bearer", client_of(request))
        raise HTTPException(401, "The admin token is not valid.", headers={"www-authenticate": "Bearer"})
    session_id = request.cookies.get(COOKIE, "")
    if session_id:
        expires = await rt.admin_sessions.expires_at(digest(session_id), lambda d: check_session(rt, d))
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
    """A secret setting's value as the panel may show it (a token digest: its first characters)."""
    if isinstance(value, str):
        if is_digest(value):
            return shown_digest(value)
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
