"""Wiring: local store, HTTP client for remote hosts, settings watch, gRPC server."""

import asyncio
import contextlib
from collections.abc import Callable

import httpx
from prometheus_client import CollectorRegistry

from gempool.api.config.v1 import config_pb2_grpc
from gempool.api.imagehost.v1 import imagehost_pb2_grpc
from gempool.common import grpcserver, internalauth
from gempool.common.tasks import stop_tasks
from gempool.common.watch import follow_settings
from gempool.imagehost.errorlog import UploadErrors
from gempool.imagehost.providers import LocalStore
from gempool.imagehost.retention import sweep_forever
from gempool.imagehost.service import ImageHostServicer, Metrics
from gempool.imagehost.settings import ImageHostSettings

UPLOAD_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


async def serve(
    settings: ImageHostSettings,
    *,
    registry: CollectorRegistry | None = None,
    client: httpx.AsyncClient | None = None,
    stop: asyncio.Event | None = None,
    ready: Callable[[int], None] | None = None,
) -> None:
    """Serve until ``stop`` is set (default: SIGINT/SIGTERM).

    Does not wait for the config service: until its first snapshot arrives, uploads use the
    default provider (local).
    """
    registry = registry or CollectorRegistry()
    local = LocalStore(settings.IMAGEHOST_DIR, settings.PUBLIC_BASE_URL)
    local.prepare()
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(httpx.AsyncClient(timeout=UPLOAD_TIMEOUT))
        config = internalauth.channel(settings.CONFIG_ADDR, settings.INTERNAL_TOKEN)
        channel = await stack.enter_async_context(config)
        errors = UploadErrors(config_pb2_grpc.ConfigServiceStub(channel))
        stack.push_async_callback(errors.close)
        metrics = Metrics(registry)
        servicer = ImageHostServicer(local, client, metrics, errors)
        watcher = asyncio.create_task(follow_settings(channel, servicer.apply_snapshot))
        sweeper = asyncio.create_task(sweep_forever(local, lambda: servicer.live, metrics))
        try:
            await grpcserver.serve(
                name="imagehost",
                host=settings.GRPC_HOST,
                port=settings.IMAGEHOST_PORT,
                metrics_port=settings.IMAGEHOST_METRICS_PORT,
                registry=registry,
                register=lambda server: imagehost_pb2_grpc.add_ImageHostServiceServicer_to_server(
                    servicer, server
                ),
                grace=settings.SHUTDOWN_GRACE_SECONDS,
                token=settings.INTERNAL_TOKEN,
                stop=stop,
                ready=ready,
            )
        finally:
            await stop_tasks(watcher, sweeper)
