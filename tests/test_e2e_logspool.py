"""Logs outlive a gateway: records held while the config service is down go to the gateway's spool
directory, and a new gateway on that directory delivers each of them once. Four service processes
on PostgreSQL and Redis, the fake Gemini upstream, plain HTTP."""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from gempool.common.devstack import Stack
from gempool.fakegemini.server import Running

from .conftest import StackFactory

TEAM = "spool-team-token"
KEYS = ["ok-spool-key-0001", "ok-spool-key-0002"]

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(make_stack: StackFactory, upstream: Running, pg_url: str, redis_prefix: str) -> Stack:
    env = {
        "API_KEYS": ",".join(KEYS),
        "ALLOWED_TOKENS": TEAM,
        "AUTH_TOKEN": "spool-admin-token",
        "BASE_URL": f"{upstream.url}/v1beta",
        "DATABASE_URL": pg_url,
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "REDIS_PREFIX": redis_prefix,
        "LOG_FLUSH_SECONDS": "1",
        "LOG_SPOOL_AFTER_SECONDS": "1",
    }
    return make_stack(env, logs="logspool", expect_keys=len(KEYS))


def eventually(check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return result


def send(stack: Stack, count: int) -> None:
    url = f"{stack.gateway_url}/v1beta/models/gemini-2.5-flash:generateContent"
    body = {"contents": [{"parts": [{"text": "hi"}]}]}
    with httpx.Client(timeout=30) as client:
        for _ in range(count):
            assert client.post(url, headers={"x-goog-api-key": TEAM}, json=body).status_code == 200


def test_logs_held_while_config_is_down_survive_the_gateway(stack: Stack, pg_url: str) -> None:
    spool = Path(stack.env["LOG_SPOOL_DIR"])

    def stored() -> int:
        with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
            row = conn.execute("SELECT count(*) FROM request_logs").fetchone()
        return int(row[0]) if row else 0

    send(stack, 5)
    assert eventually(lambda: stored() == 5, 10)
    stack.stop_one("config")
    send(stack, 20)
    assert eventually(lambda: list(spool.glob("*.batch")), 10), "spooled while the config service is away"
    send(stack, 7)  # likely still in memory (a flush a second): spooled when the gateway stops
    stack.stop_one("gateway")
    assert stored() == 5  # nothing new could be stored with the config service down
    assert len(list(spool.glob("*.batch"))) >= 2

    stack.start_one("config")
    stack.start_one("gateway")  # a new gateway process on the same spool directory
    stack.wait_ready(60, ("config", "gateway"))
    assert eventually(lambda: stored() == 32, 20), f"{stored()} of 32 stored"
    assert eventually(lambda: not list(spool.iterdir()), 5), "the spool is emptied once acknowledged"
    time.sleep(1.0)
    assert stored() == 32  # and no batch stored twice
