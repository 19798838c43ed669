"""Log in (admin token -> random session id in a cookie), log out, and who am I."""

import secrets

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from gempool.api.config.v1 import config_pb2
from gempool.gateway.access.auth import client_of
from gempool.gateway.admin.deps import COOKIE, AdminUser, Rt, admin_token_ok, digest, live_of, rpc

public = APIRouter(tags=["admin: session"])
router = APIRouter(tags=["admin: session"])


class Login(BaseModel):
    token: str = Field(description="The admin token (AUTH_TOKEN).")


class SessionOut(BaseModel):
    via: str = Field(description="session (cookie) or bearer (the admin token itself)")
    expires_at: float | None = Field(description="Unix time the session ends (sessions only).")
    timezone: str = Field(default="", description="The TIMEZONE setting: the panel shows times in it.")


def secure(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.split(",")[0].strip() == "https"


@public.post("/login", response_model=SessionOut, summary="Log in with the admin token")
async def login(body: Login, request: Request, response: Response, rt: Rt) -> SessionOut:
    """Sets an HttpOnly, SameSite=Strict cookie holding a random session id (never the token).

    Too many wrong tokens from one address lock it out: 429 with Retry-After, whatever the token.
    """
    live = live_of(rt)
    if not await admin_token_ok(request, rt, live, body.token, "login"):
        raise HTTPException(401, "The admin token is not valid.")
    session_id = secrets.token_urlsafe(32)
    ttl = live.settings.ADMIN_SESSION_EXPIRE
    create = config_pb2.CreateSessionRequest(
        digest=digest(session_id), ttl_seconds=ttl, client=client_of(request)
    )
    reply = await rpc(rt.config.CreateSession(create, timeout=5))
    response.set_cookie(
        COOKIE, session_id, max_age=ttl, path="/", secure=secure(request), httponly=True, samesite="strict"
    )
    return SessionOut(via="session", expires_at=reply.expires_at_unix)


@public.post("/logout", status_code=204, summary="End this session")
async def logout(request: Request, rt: Rt) -> Response:
    session_id = request.cookies.get(COOKIE, "")
    if session_id:
        ended = digest(session_id)
        rt.admin_sessions.forget(ended)
        reply = await rpc(rt.config.DeleteSession(config_pb2.DeleteSessionRequest(digest=ended), timeout=5))
        if reply.found:  # only real sessions: made-up cookies leave nothing in Redis
            await rt.admin_sessions.revoke(ended)  # every replica refuses it from now on
    response = Response(status_code=204, headers={"cache-control": "no-store"})
    response.delete_cookie(COOKIE, path="/", secure=secure(request), httponly=True, samesite="strict")
    return response


@router.get("/session", response_model=SessionOut, summary="How this request is authenticated")
async def whoami(admin: AdminUser, rt: Rt) -> SessionOut:
    timezone = live_of(rt).settings.TIMEZONE
    return SessionOut(via=admin.via, expires_at=admin.expires_at or None, timezone=timezone)
