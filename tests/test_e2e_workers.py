"""A gateway with GATEWAY_WORKERS > 1 is one gateway to its clients: rate limits and admin sessions
are shared through Redis, and a new admin token ends every session on every worker at once (the
workers' 5 s session caches included). Each request below comes on a connection of its own, so the
kernel hands them to either worker."""

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from gempool.common.devstack import Stack
from gempool.fakegemini.server import Running

from .conftest import StackFactory

ADMIN = "workers-admin-token-1"
HELLO = {"contents": [{"parts": [{"text": "hi"}]}]}
COOKIE = "gempool_admin"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(make_stack: StackFactory, upstream: Running, pg_url: str, redis_prefix: str) -> Stack:
    env = {
        "API_KEYS": "ok-w1,ok-w2",
        "AUTH_TOKEN": ADMIN,
        "BASE_URL": f"{upstream.url}/v1beta",
        "DATABASE_URL": pg_url,
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "REDIS_PREFIX": redis_prefix,
        "GATEWAY_WORKERS": "2",
    }
    return make_stack(env, logs="workers", expect_keys=2)


@pytest.fixture
def admin(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, headers={"authorization": f"Bearer {ADMIN}"}) as client:
        yield client


def fresh(stack: Stack, method: str, path: str, **kw: object) -> httpx.Response:
    """One request on a new connection (the kernel picks the worker that accepts it)."""
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        return client.request(method, path, **kw)  # type: ignore[arg-type]


def test_a_rate_limit_holds_across_workers(stack: Stack, admin: httpx.Client) -> None:
    created = admin.post("/api/admin/tokens", json={"name": "limited", "rpm_limit": 4})
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]

    def call() -> int:
        """A model call's status; a worker the new token has not reached yet (401) is asked again."""
        deadline = time.monotonic() + 10
        while True:
            url = "/v1beta/models/gemini-2.5-flash:generateContent"
            status = fresh(stack, "POST", url, json=HELLO, headers={"x-goog-api-key": secret}).status_code
            if status != 401 or time.monotonic() > deadline:
                return status
            time.sleep(0.1)

    with ThreadPoolExecutor(8) as pool:  # concurrent: the kernel hands connections to both workers
        statuses = list(pool.map(lambda _: call(), range(24)))
    assert sorted(statuses) == [200] * 4 + [429] * (len(statuses) - 4)


def applied(stack: Stack, revision: int) -> None:
    """Wait until the workers answer with settings ``revision`` (several answers in a row)."""
    deadline, in_a_row = time.monotonic() + 5, 0
    while in_a_row < 6:
        assert time.monotonic() < deadline, "the workers did not apply the new settings"
        ready = fresh(stack, "GET", "/readyz").json()
        in_a_row = in_a_row + 1 if ready.get("settings_revision", 0) >= revision else 0


def login(stack: Stack, token: str) -> str:
    reply = fresh(stack, "POST", "/api/admin/login", json={"token": token})
    assert reply.status_code == 200, reply.text
    return reply.cookies[COOKIE]


def session_statuses(stack: Stack, cookie: str, n: int = 12) -> list[int]:
    return [
        fresh(stack, "GET", "/api/admin/session", headers={"cookie": f"{COOKIE}={cookie}"}).status_code
        for _ in range(n)
    ]


def test_a_logout_ends_the_session_on_every_worker(stack: Stack) -> None:
    cookie = login(stack, ADMIN)
    assert session_statuses(stack, cookie) == [200] * 12  # now cached by both workers
    assert (
        fresh(stack, "POST", "/api/admin/logout", headers={"cookie": f"{COOKIE}={cookie}"}).status_code == 204
    )
    assert session_statuses(stack, cookie) == [401] * 12  # within the cache's 5 s


def test_a_new_admin_token_ends_every_session_at_once(stack: Stack, admin: httpx.Client) -> None:
    cookies = [login(stack, ADMIN) for _ in range(3)]
    for cookie in cookies:
        assert session_statuses(stack, cookie, 6) == [200] * 6  # cached by both workers
    new = "workers-admin-token-2"
    changed = admin.patch("/api/admin/settings", json={"values": {"AUTH_TOKEN": new}})
    assert changed.status_code == 200, changed.text
    applied(stack, changed.json()["revision"])  # well within the 5 s the caches trust a session
    for cookie in cookies:
        assert session_statuses(stack, cookie, 6) == [401] * 6
    assert session_statuses(stack, login(stack, new), 4) == [200] * 4
