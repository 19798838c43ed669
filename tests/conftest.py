"""Fixtures for cross-service tests: real PostgreSQL and Redis, a fake Gemini, real processes."""

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import psycopg
import pytest
import redis
from playwright.sync_api import Browser

from gempool.api.keypool.v1 import keypool_pb2, keypool_pb2_grpc
from gempool.common import internalauth
from gempool.common.devstack import Ports, Stack
from gempool.fakegemini.server import Running, serve_in_thread

from .panelkit import ARTIFACTS, Shots, system_chromium
from .servers import PrivateRedis

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def upstream() -> Iterator[Running]:
    with serve_in_thread() as running:
        yield running


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A database of its own, dropped afterwards."""
    name = f"gempool_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def redis_prefix() -> Iterator[str]:
    """A Redis key prefix of its own, cleaned afterwards."""
    prefix = f"gempool-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}*", count=1000):
        client.delete(key)
    client.close()


class StackFactory(Protocol):
    """What ``make_stack`` gives: start a stack (or, with ``replica_of``, a replica) and wait for it."""

    def __call__(
        self, env: dict[str, str], *, logs: str = ..., expect_keys: int = ..., replica_of: Stack | None = ...
    ) -> Stack: ...


@pytest.fixture(scope="module")
def make_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackFactory]:
    """Start the four services as processes; every stack is stopped at the end of the module."""
    stacks: list[Stack] = []

    def factory(
        env: dict[str, str], *, logs: str = "stack", expect_keys: int = 0, replica_of: Stack | None = None
    ) -> Stack:
        """A whole stack; with ``replica_of``, one more keypool and gateway on that stack's config."""
        log_dir: Path = tmp_path_factory.mktemp(logs)
        base = {
            "LOG_LEVEL": "INFO",
            "IMAGEHOST_DIR": str(log_dir / "images"),
            "ADMIN_TOKEN_FILE": str(log_dir / "admin_token"),
            "LOG_SPOOL_DIR": str(log_dir / "log-spool"),
        }
        ports = Ports.free()
        if replica_of is not None:
            ports.config, ports.imagehost = replica_of.ports.config, replica_of.ports.imagehost
        shared = replica_of.internal_token if replica_of is not None else ""  # a replica calls its config
        stack = Stack(env={**base, **env}, ports=ports, log_dir=log_dir, internal_token=shared)
        stacks.append(stack)
        services = (
            ("keypool", "gateway")
            if replica_of is not None
            else ("config", "keypool", "imagehost", "gateway")
        )
        try:
            if replica_of is None:
                stack.start_one("config")
                stack.wait_ready(60, ("config",))
            stack.start(services[1:] if replica_of is None else services)
            stack.wait_ready(60, services)
            wait_for_keys(stack, expect_keys)
        except Exception:
            stack.stop()
            for path in sorted(log_dir.glob("*.log")):
                print(f"--- {path.name}\n{path.read_text()[-4000:]}")  # noqa: T201
            raise
        return stack

    yield factory
    for stack in stacks:
        stack.stop()


def wait_for_keys(stack: Stack, count: int, timeout: float = 30.0) -> None:
    """Block until the keypool has loaded ``count`` keys from the config service."""
    if not count:
        return
    deadline = time.monotonic() + timeout
    with internalauth.sync_channel(f"127.0.0.1:{stack.ports.keypool}", stack.internal_token) as channel:
        stub = keypool_pb2_grpc.KeyPoolServiceStub(channel)
        while True:
            total = stub.ListKeys(keypool_pb2.ListKeysRequest(page_size=1), timeout=5).total
            if total >= count:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"keypool has {total} keys, expected {count}")
            time.sleep(0.1)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless, shared by one module's tests (Playwright downloads nothing)."""
    with system_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def shots(request: pytest.FixtureRequest) -> Shots:
    """Screenshots of a module's steps under tests/artifacts/<module>/ (git-ignored)."""
    return Shots(ARTIFACTS / request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture(scope="module")
def redis_server() -> Iterator[PrivateRedis]:
    """A redis-server of the module's own, which its tests may kill and restart."""
    server = PrivateRedis()
    yield server
    with contextlib.suppress(ProcessLookupError):
        server.stop()
