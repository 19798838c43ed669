"""Lease+Report round trips per second through a real keypool, over gRPC. Figures, not assertions.

Starts a tiny in-process fake ConfigService (a real grpc.aio server on a free port) serving N key
records, runs ``python -m gempool.keypool`` against it as a separate process (memory store, then
the Redis store), and drives it with C concurrent callers that each Lease a key and Report a 200,
as the gateway does for every request. First it measures a do-nothing KeyPoolService
(``grpc-floor``): what Python gRPC alone allows on this machine, so the keypool's own cost shows.

    uv run python bench/keypool_bench.py [--keys 1000] [--seconds 5] [--concurrency 1,16,64,256]
        [--stores memory,redis] [--modes unary,session] [--redis-url redis://127.0.0.1:6379/0] [--no-baseline]
"""

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import redis

from gempool.api.keypool.v1 import keypool_pb2 as pb
from gempool.api.keypool.v1 import keypool_pb2_grpc
from gempool.common import internalauth
from gempool.common.runner import run
from gempool.gateway.pipeline.poolclient import PoolClient
from gempool.gateway.pipeline.reporter import Reporter
from gempool.keypool.testing import FakeConfig, start_fake_config

MODELS = ("gemini-2.5-flash", "gemini-2.5-pro")
TOKEN = secrets.token_urlsafe(32)  # the internal credential the keypool checks on every call


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", default="1,16,64,256")
    parser.add_argument("--stores", default="memory,redis")
    parser.add_argument("--modes", default="unary,session", help="unary calls, or the gateway's Session way")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--no-baseline", action="store_true", help="skip the do-nothing gRPC server")
    return parser.parse_args()


class Echo(keypool_pb2_grpc.KeyPoolServiceServicer):
    """A KeyPoolService that does nothing: the ceiling grpc.aio itself sets on this machine."""

    async def Lease(
        self, request: pb.LeaseRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.LeaseResponse:
        return pb.LeaseResponse(lease=pb.Lease(key_id="k", api_key="AIza-bench"))

    async def Report(
        self, request: pb.ReportRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ReportResponse:
        return pb.ReportResponse(verdict=pb.VERDICT_SUCCESS)


ECHO = """
import asyncio, sys, uvloop
import grpc
sys.path.insert(0, {bench!r})
from keypool_bench import Echo
from gempool.api.keypool.v1 import keypool_pb2_grpc

async def main():
    server = grpc.aio.server()
    keypool_pb2_grpc.add_KeyPoolServiceServicer_to_server(Echo(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print('{{"msg": "serving", "grpc_port": %d}}' % port, file=sys.stderr, flush=True)
    await server.wait_for_termination()

uvloop.run(main())
"""


@asynccontextmanager
async def keypool_process(config_port: int, redis_url: str, prefix: str) -> AsyncIterator[int]:
    """``python -m gempool.keypool`` on a free port; yields the port it announced."""
    env = os.environ | {
        "KEYPOOL_PORT": "0",
        "KEYPOOL_METRICS_PORT": "-1",
        "GRPC_HOST": "127.0.0.1",
        "INTERNAL_TOKEN": TOKEN,
        "CONFIG_ADDR": f"127.0.0.1:{config_port}",
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": prefix,
    }
    async with server_process([sys.executable, "-m", "gempool.keypool"], env) as port:
        yield port


@asynccontextmanager
async def server_process(argv: list[str], env: dict[str, str]) -> AsyncIterator[int]:
    """Run a server process that logs ``{"msg": "serving", "grpc_port": N}``; yields N."""
    proc = await asyncio.create_subprocess_exec(*argv, env=env, stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    try:
        port = await _announced_port(proc.stderr)
        drain = asyncio.create_task(_drain(proc.stderr))
        yield port
        drain.cancel()
    finally:
        proc.terminate()
        await proc.wait()


async def _announced_port(stderr: asyncio.StreamReader) -> int:
    while line := await stderr.readline():
        if b'"serving"' in line:
            return int(json.loads(line)["grpc_port"])
    raise RuntimeError("keypool exited before serving")


async def _drain(stderr: asyncio.StreamReader) -> None:
    while await stderr.readline():
        pass


async def caller(
    stub: "keypool_pb2_grpc.KeyPoolServiceAsyncStub", deadline: float, counts: list[int]
) -> None:
    i = 0
    while time.perf_counter() < deadline:
        model = MODELS[i % 2]
        leased = await stub.Lease(pb.LeaseRequest(model=model))
        await stub.Report(pb.ReportRequest(key_id=leased.lease.key_id, model=model, http_status=200))
        counts[0] += 1
        i += 1


async def session_caller(pool: PoolClient, reporter: Reporter, deadline: float, counts: list[int]) -> None:
    """The gateway's way: lease over a Session stream, successes reported in batches."""
    i = 0
    while time.perf_counter() < deadline:
        model = MODELS[i % 2]
        leased = await pool.lease(pb.LeaseRequest(model=model), 5.0)
        reporter.add(pb.ReportRequest(key_id=leased.lease.key_id, model=model, http_status=200))
        counts[0] += 1
        i += 1


async def measure(port: int, concurrency: int, seconds: float, mode: str) -> float:
    async with internalauth.channel(f"127.0.0.1:{port}", TOKEN) as channel:
        stub = keypool_pb2_grpc.KeyPoolServiceStub(channel)
        await stub.Lease(pb.LeaseRequest(model=MODELS[0]))  # connect and warm up
        counts = [0]
        start = time.perf_counter()
        if mode == "unary":
            await asyncio.gather(*(caller(stub, start + seconds, counts) for _ in range(concurrency)))
        else:
            pool, reporter = PoolClient(stub), Reporter(stub)
            reporter.start()
            await asyncio.gather(
                *(session_caller(pool, reporter, start + seconds, counts) for _ in range(concurrency))
            )
            await reporter.close()
            await pool.close()
        return counts[0] / (time.perf_counter() - start)


async def bench_store(store: str, args: argparse.Namespace, config_port: int) -> None:
    prefix = f"gempool-bench-{uuid.uuid4().hex[:8]}:"
    url = args.redis_url if store == "redis" else ""
    try:
        async with keypool_process(config_port, url, prefix) as port:
            await bench_port(f"kp-{store}", port, args)
    finally:
        if url:
            _drop_prefix(url, prefix)


def _drop_prefix(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    names = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if names:
        client.delete(*names)
    client.close()


async def bench_baseline(args: argparse.Namespace) -> None:
    code = ECHO.format(bench=os.path.dirname(os.path.abspath(__file__)))
    async with server_process([sys.executable, "-c", code], dict(os.environ)) as port:
        await bench_port("grpc-floor", port, args)


async def bench_port(label: str, port: int, args: argparse.Namespace) -> None:
    for mode in args.modes.split(","):
        if label == "grpc-floor" and mode != "unary":
            continue  # the do-nothing server answers unary calls only
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            rate = await measure(port, concurrency, args.seconds, mode)
            shape = f"keys={args.keys:<6} concurrency={concurrency:<4}"
            line = f"{label:10} {mode:8} {shape} {rate:8.0f} lease+report/s"
            print(line, flush=True)  # noqa: T201


async def main(args: argparse.Namespace) -> None:
    fake = FakeConfig()  # type: ignore[abstract]  # mypy-protobuf: unimplemented RPCs are abstract
    fake.add_keys(f"AIzaSyBench{i:06d}-abcdefghijklmnopqrs" for i in range(args.keys))
    server, port = await start_fake_config(fake)
    try:
        if not args.no_baseline:
            await bench_baseline(args)
        for store in args.stores.split(","):
            await bench_store(store, args, port)
    finally:
        await server.stop(None)


if __name__ == "__main__":
    run(main(parse_args()))
