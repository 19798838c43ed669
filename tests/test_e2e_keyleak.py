"""A suspended key end to end: Google's 403 quotes the whole key, and no exit of any process shows
it (client answers in both dialects, the key's reason in the panel, the error log, every log file).

Four service processes on PostgreSQL and Redis, the fake upstream answering Google's exact
CONSUMER_SUSPENDED error for the pool's only key."""

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gempool.common.devstack import Stack
from gempool.fakegemini.behaviour import Behaviour
from gempool.fakegemini.server import Running

from .conftest import StackFactory

ADMIN = "admin-secret-token-leak"
TEAM = "team-token-leak"
KEY = "AIzaSyLEAKCHECK000000000000000000000x9Qk"
MASKED = "AIza...x9Qk"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(make_stack: StackFactory, upstream: Running, pg_url: str, redis_prefix: str) -> Stack:
    upstream.fake.rules.keys[KEY] = Behaviour("suspended")
    env = {
        "API_KEYS": KEY,
        "ALLOWED_TOKENS": TEAM,
        "AUTH_TOKEN": ADMIN,
        "BASE_URL": f"{upstream.url}/v1beta",
        "DATABASE_URL": pg_url,
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "REDIS_PREFIX": redis_prefix,
        "LOG_FLUSH_SECONDS": "0.2",
        "ERROR_LOG_RECORD_REQUEST_BODY": "true",
    }
    return make_stack(env, logs="keyleak", expect_keys=1)


@pytest.fixture
def admin(stack: Stack) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {ADMIN}"}
    with httpx.Client(base_url=f"{stack.gateway_url}/api/admin", headers=headers, timeout=30) as client:
        yield client


def eventually(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return result


def test_no_exit_shows_the_suspended_key(stack: Stack, admin: httpx.Client) -> None:
    native = httpx.post(
        f"{stack.gateway_url}/v1beta/models/gemini-2.5-flash:generateContent",
        headers={"x-goog-api-key": TEAM},
        json={"contents": [{"parts": [{"text": "hi"}]}]},
        timeout=30,
    )
    assert native.status_code == 403 and native.json()["error"]["status"] == "PERMISSION_DENIED"
    assert MASKED in native.text and KEY not in native.text

    retired = eventually(lambda: [k for k in admin.get("/keys").json()["keys"] if k["state"] == "retired"])
    assert retired and "CONSUMER_SUSPENDED" in retired[0]["reason"]
    assert KEY not in admin.get("/keys").text

    openai = httpx.post(
        f"{stack.gateway_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {TEAM}"},
        json={"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )
    assert KEY not in openai.text  # a retired key is not leased again: the pool says so instead

    errors = eventually(lambda: admin.get("/logs/errors").json()["entries"])
    assert errors and errors[0]["key_masked"] == MASKED
    detail = admin.get(f"/logs/errors/{errors[0]['id']}")
    assert MASKED in detail.text and KEY not in detail.text

    assert stack.log_dir is not None
    logs = {path.name: path.read_text() for path in stack.log_dir.glob("*.log")}
    assert "key retired" in logs["keypool.log"] and "upstream attempt failed" in logs["gateway.log"]
    assert [name for name, text in logs.items() if KEY in text] == []
