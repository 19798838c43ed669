"""Callers: which token record a secret belongs to, its model allow-list and its rate limit."""

import hashlib

import orjson
import pytest
from starlette.requests import Request
from starlette.responses import Response

from gempool.api.config.v1 import config_pb2
from gempool.common.digests import digest_of
from gempool.common.live import LiveSettings
from gempool.gateway.access.auth import TokenSet
from gempool.gateway.access.ratelimit import MemoryLimiter
from gempool.gateway.access.tokens import CALLER, Callers, admit
from gempool.gateway.errors import Dialect
from gempool.gateway.native.routes import authorize
from gempool.gateway.runtime import Live, Runtime


def record(id_: int, name: str, secret: str, **fields: object) -> config_pb2.ClientToken:
    digest = hashlib.sha256(secret.encode()).hexdigest()
    fields = {"enabled": True, **fields}
    return config_pb2.ClientToken(id=id_, name=name, digest=digest, **fields)  # type: ignore[arg-type]


def request_with(token: str) -> Request:
    headers = [(b"x-goog-api-key", token.encode())]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""})


def test_records_win_over_the_allowed_list() -> None:
    callers = Callers(
        [record(1, "team-a", "shared-secret", enabled=False), record(2, "team-b", "secret-b", rpm_limit=5)],
        allowed=["shared-secret", "listed-only-secret"],
        admin="admin-secret",
    )
    assert callers.find("shared-secret").enabled is False  # type: ignore[union-attr]
    assert callers.find("secret-b").limit_key == "token:2"  # type: ignore[union-attr]
    listed = callers.find("listed-only-secret")
    named = (
        "allowed:" + hashlib.sha256(b"listed-only-secret").hexdigest()[:8]
    )  # the digest's, never the token's
    assert listed is not None and listed.name == named and listed.rpm == 0
    assert callers.find("admin-secret").name == "admin"  # type: ignore[union-attr]
    assert callers.find("secret-") is None and callers.find("") is None


def test_tokens_are_recognised_from_the_digests_the_settings_hold() -> None:
    settings = LiveSettings(ALLOWED_TOKENS=["team-listed-token"], AUTH_TOKEN="the-admin-token-0123")
    assert settings.ALLOWED_TOKENS == [digest_of("team-listed-token")]
    assert settings.AUTH_TOKEN == digest_of("the-admin-token-0123")
    callers = Callers([], settings.ALLOWED_TOKENS, settings.AUTH_TOKEN)
    assert callers.find("team-listed-token") is not None and callers.find("the-admin-token-0123") is not None
    assert callers.find(settings.AUTH_TOKEN) is None  # the digest itself is no token
    assert TokenSet([settings.AUTH_TOKEN]).check("the-admin-token-0123")
    assert not TokenSet([settings.AUTH_TOKEN]).check(settings.AUTH_TOKEN)


def test_model_patterns() -> None:
    caller = Callers([record(1, "t", "s", allowed_models=["gemini-2.5-flash", "gemini-2.0-*"])]).find("s")
    assert caller is not None
    assert caller.may_use("gemini-2.5-flash") and caller.may_use("models/gemini-2.0-flash-exp")
    assert caller.may_use("")  # listing models names none
    assert not caller.may_use("gemini-2.5-pro")


async def test_authorize_names_the_caller_and_refuses_a_disabled_token(runtime: Runtime) -> None:
    settings = LiveSettings(ALLOWED_TOKENS=["old-listed"])
    runtime.live = Live.build(
        settings, tokens=[record(7, "team-x", "x-secret"), record(8, "off", "off-secret", enabled=False)]
    )
    live = await authorize(runtime, request_with("x-secret"), Dialect.GEMINI)
    assert live is runtime.live and CALLER.get().name == "team-x"
    refused = await authorize(runtime, request_with("off-secret"), Dialect.OPENAI)
    assert isinstance(refused, Response) and refused.status_code == 401
    assert "disabled" in orjson.loads(refused.body)["error"]["message"]
    unknown = await authorize(runtime, request_with("nobody"), Dialect.GEMINI)
    assert isinstance(unknown, Response) and unknown.status_code == 401


@pytest.mark.parametrize("dialect", [Dialect.GEMINI, Dialect.OPENAI])
async def test_over_the_limit_is_a_429_with_retry_after_in_the_callers_dialect(dialect: Dialect) -> None:
    caller = Callers([record(1, "team", "s", rpm_limit=2, allowed_models=["m"])]).find("s")
    assert caller is not None
    limiter = MemoryLimiter()
    assert await admit(limiter, caller, dialect, "m") is None
    assert await admit(limiter, caller, dialect, "m") is None
    refused = await admit(limiter, caller, dialect, "m")
    assert refused is not None and refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    error = orjson.loads(refused.body)["error"]
    assert (error.get("status") or error.get("type")) in ("RESOURCE_EXHAUSTED", "rate_limit_error")
    forbidden = await admit(limiter, caller, dialect, "other-model")
    assert forbidden is not None and forbidden.status_code == 403
