"""Bootstrap shared by the gRPC services: health, metrics port, interceptors, clean shutdown."""

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, cast

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from gempool.common.internalauth import InsecureBind, bind_problem, server_interceptors
from gempool.common.metrics import register_process_metrics

log = logging.getLogger(__name__)

_AioUnaryBehaviour = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]
_Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"  # generic only in types-grpcio, so quoted


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts every RPC by method and code, and times unary ones."""

    def __init__(self, registry: CollectorRegistry, prefix: str) -> None:
        self.calls = Counter(f"{prefix}_grpc_requests", "RPCs handled", ["method", "code"], registry=registry)
        self.seconds = Histogram(
            f"{prefix}_grpc_request_seconds",
            "RPC handling time",
            ["method"],
            registry=registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5),
        )

    async def intercept_service(
        self,
        continuation: "Callable[[grpc.HandlerCallDetails], Awaitable[_Handler | None]]",
        details: grpc.HandlerCallDetails,
    ) -> "_Handler | None":
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = details.method.rsplit("/", 1)[-1]
        # types-grpcio types handlers for the sync server; under grpc.aio they are coroutine functions.
        inner = cast(_AioUnaryBehaviour, handler.unary_unary)
        calls, seconds = self.calls, self.seconds

        async def wrapped(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            start = time.perf_counter()
            try:
                response = await inner(request, context)
            except Exception:
                code = context.code()  # set by context.abort(); None for an unexpected error
                calls.labels(method, code.name if code is not None else "UNKNOWN").inc()
                raise
            seconds.labels(method).observe(time.perf_counter() - start)
            code = context.code()
            calls.labels(method, code.name if code is not None else "OK").inc()
            return response

        return grpc.unary_unary_rpc_method_handler(
            wrapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def stop_event() -> asyncio.Event:
    """An event set on SIGINT/SIGTERM."""
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, event.set)
    return event


# Clients (the gateway) ping every few seconds to find a connection that died without a word; a
# server left at gRPC's defaults would answer such pings with GOAWAY ("too_many_pings") and end
# every stream on the connection at once.
KEEPALIVE_ACCEPTED = [
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 5_000),
    ("grpc.http2.max_ping_strikes", 0),
]


async def serve(
    *,
    name: str,
    host: str,
    port: int,
    metrics_port: int,
    registry: CollectorRegistry,
    register: Callable[[grpc.aio.Server], None],
    grace: float,
    token: str,
    stop: asyncio.Event | None = None,
    ready: Callable[[int], None] | None = None,
    health_servicer: health.aio.HealthServicer | None = None,
) -> None:
    """Run a gRPC server until ``stop`` is set (default: a signal arrives).

    ``health_servicer``: the service's own, when it changes its status while it runs. Every method
    but health requires the internal credential ``token``; without one the server may only listen on
    loopback (see :mod:`gempool.common.internalauth`).
    """
    problem = bind_problem(host, token)
    if problem is not None:
        raise InsecureBind(problem)
    if not token:
        log.warning("INTERNAL_TOKEN is empty: gRPC calls are not authenticated (listening on loopback only)")
    server = grpc.aio.server(
        # Metrics first, so refused calls are counted too (code UNAUTHENTICATED).
        interceptors=[MetricsInterceptor(registry, f"gempool_{name}"), *server_interceptors(token)],
        options=[("grpc.max_receive_message_length", 32 * 1024 * 1024), *KEEPALIVE_ACCEPTED],
    )
    register(server)
    health_servicer = health_servicer or health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    bound = server.add_insecure_port(f"{host}:{port}")
    http_server = None
    register_process_metrics(registry, name)
    if metrics_port >= 0:
        http_server, _ = start_http_server(metrics_port, addr=host, registry=registry)
    await server.start()
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    log.info("serving", extra={"grpc_port": bound, "metrics_port": metrics_port})
    if ready is not None:
        ready(bound)
    try:
        await (stop or stop_event()).wait()
    finally:
        await health_servicer.enter_graceful_shutdown()
        await server.stop(grace)
        if http_server is not None:
            http_server.shutdown()
        log.info("stopped")
