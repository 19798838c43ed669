"""Wiring: store, config service channel, pool, prober and the gRPC server."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import grpc
import httpx
from grpc_health.v1 import health, health_pb2
from prometheus_client import CollectorRegistry

from gempool.api.config.v1 import config_pb2_grpc
from gempool.api.keypool.v1 import keypool_pb2, keypool_pb2_grpc
from gempool.common import grpcserver, internalauth
from gempool.common.tasks import stop_tasks
from gempool.common.watch import follow_settings

from .configsync import ConfigStatusSink, ConfigSync
from .listing import count_states
from .metrics import Metrics
from .pool import KeyPool
from .prober import PROBE_TIMEOUT, ClientFor, Prober, proxied_client
from .servicer import KeyPoolServicer
from .settings import KeyPoolSettings
from .store import UNREACHABLE, open_store
from .storewatch import LIVENESS, StoreWatch

log = logging.getLogger(__name__)
GAUGE_INTERVAL = 15.0


@dataclass
class KeyPoolApp:
    pool: KeyPool
    prober: Prober
    sync: ConfigSync
    channel: grpc.aio.Channel
    sink: ConfigStatusSink
    watch: StoreWatch
    health: health.aio.HealthServicer
    tasks: list["asyncio.Task[None]"] = field(default_factory=list)

    def register(self, server: grpc.aio.Server) -> None:
        servicer = KeyPoolServicer(self.pool, self.prober, self.watch)
        keypool_pb2_grpc.add_KeyPoolServiceServicer_to_server(servicer, server)


@contextlib.asynccontextmanager
async def build_app(
    settings: KeyPoolSettings,
    registry: CollectorRegistry,
    *,
    http: httpx.AsyncClient | None = None,
    client_for: ClientFor = proxied_client,
    probe_tick: float = 60.0,
) -> AsyncIterator[KeyPoolApp]:
    """Open the store, the config channel and the prober's HTTP client; run the background loops.

    ``http`` probes keys without a proxy; ``client_for(proxy)`` opens a client per proxy for a run.
    """
    store = open_store(settings.REDIS_URL, settings.REDIS_PREFIX)
    channel = internalauth.channel(settings.CONFIG_ADDR, settings.INTERNAL_TOKEN)
    own_http = http is None
    http = http or httpx.AsyncClient(timeout=PROBE_TIMEOUT)
    stub = config_pb2_grpc.ConfigServiceStub(channel)
    metrics = Metrics(registry)
    sink = ConfigStatusSink(stub, store, metrics.status_pending)
    pool = KeyPool(store, sink, metrics)
    prober = Prober(pool, http, settings.PROBE_CONCURRENCY, probe_tick, client_for)
    health_servicer = health.aio.HealthServicer()
    watch = StoreWatch(pool, metrics, health_servicer)
    app = KeyPoolApp(pool, prober, ConfigSync(stub, pool), channel, sink, watch, health_servicer)
    try:
        await _start(app, settings.STARTUP_WAIT_SECONDS)
        yield app
    finally:
        await stop_tasks(*app.tasks)
        if own_http:
            await http.aclose()
        await channel.close()
        await store.close()


async def _start(app: KeyPoolApp, wait: float) -> None:
    await app.health.set(LIVENESS, health_pb2.HealthCheckResponse.SERVING)
    first = asyncio.Event()
    app.tasks.append(
        asyncio.create_task(follow_settings(app.channel, app.sync.on_snapshot, first=first), name="watch")
    )
    try:
        await asyncio.wait_for(first.wait(), wait)
    except TimeoutError:
        log.warning("no settings from the config service yet; serving without keys", extra={"waited": wait})
    app.tasks.append(asyncio.create_task(app.prober.run(), name="prober"))
    app.tasks.append(asyncio.create_task(_gauge_loop(app.pool), name="gauges"))
    app.tasks.append(asyncio.create_task(app.watch.run(), name="store watch"))
    app.tasks.append(asyncio.create_task(app.sink.run(), name="status outbox"))


async def _gauge_loop(pool: KeyPool) -> None:
    while True:
        try:
            for state, count in (await count_states(pool.store, pool.records)).items():
                pool.metrics.keys.labels(_state_name(state)).set(count)
        except UNREACHABLE:
            pass  # the store watch tells about it, once
        except Exception:
            log.exception("could not count keys by state")
        await asyncio.sleep(GAUGE_INTERVAL)


def _state_name(state: keypool_pb2.KeyState.ValueType) -> str:
    return keypool_pb2.KeyState.Name(state).removeprefix("KEY_STATE_").lower()


async def serve(
    settings: KeyPoolSettings,
    *,
    stop: asyncio.Event | None = None,
    ready: Callable[[int], None] | None = None,
    http: httpx.AsyncClient | None = None,
    client_for: ClientFor = proxied_client,
    probe_tick: float = 60.0,
) -> None:
    """Run the keypool until ``stop`` is set (default: SIGINT/SIGTERM)."""
    registry = CollectorRegistry()
    async with build_app(settings, registry, http=http, client_for=client_for, probe_tick=probe_tick) as app:
        await grpcserver.serve(
            name="keypool",
            host=settings.GRPC_HOST,
            port=settings.KEYPOOL_PORT,
            metrics_port=settings.KEYPOOL_METRICS_PORT,
            registry=registry,
            register=app.register,
            grace=settings.SHUTDOWN_GRACE_SECONDS,
            token=settings.INTERNAL_TOKEN,
            stop=stop,
            ready=ready,
            health_servicer=app.health,
        )
