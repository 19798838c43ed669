"""Every test runs against both backends: a SQLite file and a fresh PostgreSQL database of its own."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import psycopg
import pytest
from sqlalchemy import Engine, create_engine

from gempool.api.config.v1 import config_pb2_grpc
from gempool.config.db import make_engine
from gempool.config.server import serve
from gempool.config.settings import ConfigServiceSettings
from gempool.config.store import Store

PG_ADMIN = os.environ.get("GEMPOOL_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")

if TYPE_CHECKING:
    Stub = config_pb2_grpc.ConfigServiceAsyncStub


@contextmanager
def pg_database() -> Iterator[str]:
    """A PostgreSQL database of its own, dropped afterwards."""
    name = f"gempool_config_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'gempool.db'}"
        return
    with pg_database() as url:
        yield url


@pytest.fixture
def pg_url() -> Iterator[str]:
    with pg_database() as url:
        yield url


def make_settings(database_url: str, tmp_path: Path, **overrides: Any) -> ConfigServiceSettings:
    values: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "GRPC_HOST": "127.0.0.1",
        "CONFIG_PORT": 0,
        "CONFIG_METRICS_PORT": -1,
        "ADMIN_TOKEN_FILE": tmp_path / "secrets" / "admin_token",
        "WATCH_POLL_SECONDS": 0.2,
        "SHUTDOWN_GRACE_SECONDS": 1.0,
    } | overrides
    return ConfigServiceSettings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> ConfigServiceSettings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def engine(settings: ConfigServiceSettings) -> Iterator[Engine]:
    """A plain engine on the test database, for looking at rows directly."""
    engine = create_engine(settings.DATABASE_URL)
    yield engine
    engine.dispose()


Started = AbstractAsyncContextManager["Stub"]
Starter = Callable[..., Started]


@asynccontextmanager
async def running(settings: ConfigServiceSettings, env: Mapping[str, str]) -> AsyncIterator["Stub"]:
    """A real config service on port 0 in this event loop; yields a stub connected to it."""
    stop = asyncio.Event()
    port: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(settings, stop=stop, ready=port.set_result, env=env))
    try:
        either: set[asyncio.Future[Any]] = {task, port}
        done, _ = await asyncio.wait(either, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()  # raises what serve() raised
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port.result()}") as channel:
            yield config_pb2_grpc.ConfigServiceStub(channel)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


@pytest.fixture
def start(settings: ConfigServiceSettings) -> Starter:
    """``async with start(env={...}) as stub``: a service on the test database (several may run at once)."""

    def starter(env: Mapping[str, str] | None = None, **overrides: Any) -> Started:
        chosen = settings.model_copy(update=overrides) if overrides else settings
        return running(chosen, env or {})

    return starter


@pytest.fixture
def make_store(settings: ConfigServiceSettings) -> Iterator[Callable[..., Store]]:
    """``make_store(env)``: a migrated, seeded Store on the test database, without a server."""
    stores: list[Store] = []

    def factory(env: Mapping[str, str] | None = None) -> Store:
        stores.append(Store(make_engine(settings.DATABASE_URL)))
        stores[-1].prepare(env or {"AUTH_TOKEN": "admin-secret"})
        return stores[-1]

    yield factory
    for store in stores:
        store.close()
