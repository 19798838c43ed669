"""`python -m gempool.common.healthcheck`, the probe compose.yaml runs inside each container."""

import asyncio
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc


async def probe(*args: str) -> int:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gempool.common.healthcheck", *args, "--timeout", "2",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    return await asyncio.wait_for(proc.wait(), 20)


@pytest.fixture
async def grpc_health() -> AsyncIterator[tuple[health.aio.HealthServicer, str]]:
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        await server.stop(0)


async def test_grpc_serving_is_healthy_and_anything_else_is_not(
    grpc_health: tuple[health.aio.HealthServicer, str],
) -> None:
    servicer, address = grpc_health
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    assert await probe(address) == 0
    await servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert await probe(address) == 1
    assert await probe(address, "--service", "unknown.Service") == 1


async def test_nothing_listening_is_unhealthy() -> None:
    assert await probe("127.0.0.1:9") == 1
    assert await probe("http://127.0.0.1:9/healthz") == 1


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_http_2xx_is_healthy_and_an_error_status_is_not(http_base: str) -> None:
    assert await probe(f"{http_base}/healthz") == 0
    assert await probe(f"{http_base}/broken") == 1
