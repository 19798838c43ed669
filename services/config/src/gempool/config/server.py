"""``serve(settings)``: prepare the database, then run the gRPC server until stopped."""

import asyncio
import json
import logging
from collections.abc import Callable, Mapping

import grpc
from prometheus_client import CollectorRegistry

from gempool.api.config.v1 import config_pb2, config_pb2_grpc
from gempool.common import grpcserver
from gempool.common.logs import set_level
from gempool.common.tasks import stop_tasks
from gempool.config.db import make_engine
from gempool.config.hub import Hub
from gempool.config.metrics import Metrics
from gempool.config.retention import Retention
from gempool.config.seed import read_env, write_admin_token
from gempool.config.service import ConfigServicer
from gempool.config.settings import ConfigServiceSettings
from gempool.config.store import Store

log = logging.getLogger(__name__)


async def prepare(store: Store, settings: ConfigServiceSettings, env: Mapping[str, str]) -> None:
    """Migrate and seed; hand a generated admin token to the admin through a 0600 file."""
    token = await asyncio.to_thread(store.prepare, env)
    if token is None:
        return
    try:
        write_admin_token(settings.ADMIN_TOKEN_FILE, token)
    except OSError as exc:
        log.error(
            f"generated an admin token but could not write {settings.ADMIN_TOKEN_FILE} ({exc.strerror}); "
            "run `python -m gempool.config reset-admin-token` to get a new one"
        )
        return
    log.warning(f"generated an admin token (AUTH_TOKEN) and wrote it to {settings.ADMIN_TOKEN_FILE}")


async def serve(
    settings: ConfigServiceSettings,
    *,
    stop: asyncio.Event | None = None,
    ready: Callable[[int], None] | None = None,
    env: Mapping[str, str] | None = None,
) -> None:
    """Run until ``stop`` is set (default: SIGINT/SIGTERM). ``env`` replaces env/.env for seeding (tests)."""
    env = read_env() if env is None else env
    store = Store(make_engine(settings.DATABASE_URL))
    retention: asyncio.Task[None] | None = None
    try:
        await prepare(store, settings, env)
        registry = CollectorRegistry()
        metrics = Metrics(registry)
        hub = Hub(
            lambda: asyncio.to_thread(store.snapshot),
            lambda: asyncio.to_thread(store.revisions),
            metrics,
            settings.WATCH_POLL_SECONDS,
            on_publish=LogLevel().apply,
        )
        await hub.start()
        retention = asyncio.create_task(Retention(store, settings.RETENTION_INTERVAL_SECONDS).loop())
        servicer = ConfigServicer(store, hub, metrics, env)
        await run_server(settings, servicer, registry, stop or grpcserver.stop_event(), ready)
    finally:
        await stop_tasks(retention)
        await asyncio.to_thread(store.close)


class LogLevel:
    """The live LOG_LEVEL applies to this service as to every other."""

    def __init__(self) -> None:
        self.level = ""

    def apply(self, snapshot: config_pb2.SettingsSnapshot) -> None:
        level = json.loads(snapshot.values.get("LOG_LEVEL", '"INFO"'))
        if level != self.level:
            set_level(level)
            self.level = level


async def run_server(
    settings: ConfigServiceSettings,
    servicer: ConfigServicer,
    registry: CollectorRegistry,
    stop: asyncio.Event,
    ready: Callable[[int], None] | None,
) -> None:
    hub = servicer.hub

    def register(server: grpc.aio.Server) -> None:
        config_pb2_grpc.add_ConfigServiceServicer_to_server(servicer, server)

    # Watch streams never end by themselves: close them as soon as the stop arrives so the server's
    # grace period is spent on unary calls, not on waiting for streams.
    closer = asyncio.create_task(close_on(stop, hub))
    try:
        await grpcserver.serve(
            name="config",
            host=settings.GRPC_HOST,
            port=settings.CONFIG_PORT,
            metrics_port=settings.CONFIG_METRICS_PORT,
            registry=registry,
            register=register,
            grace=settings.SHUTDOWN_GRACE_SECONDS,
            token=settings.INTERNAL_TOKEN,
            stop=stop,
            ready=ready,
        )
    finally:
        await stop_tasks(closer)
        await hub.close()


async def close_on(stop: asyncio.Event, hub: Hub) -> None:
    await stop.wait()
    await hub.close()
