"""A 429 storm: 100 keys, 50 of which answer 429 with a 30 s RetryInfo; the rest are valid.

Runs the fake Gemini upstream and the four services as processes, drives the gateway for
``--seconds`` (default 90) at a fixed concurrency, and prints the client success rate and the
upstream calls per client request after the first minute (when every 429 key has been seen once
and cools for the time Google asked). Figures, not assertions.
"""

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from gempool.common.devstack import Ports, Stack, free_port, http_ok

TOKEN = "storm-token"
BODY = b'{"contents":[{"role":"user","parts":[{"text":"storm"}]}]}'


def start_upstream() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gempool.fakegemini", "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not http_ok(f"{url}/v1beta/models?key=ok-probe"):
        if time.monotonic() > deadline:
            raise RuntimeError("fake upstream did not start")
        time.sleep(0.1)
    return proc, url


async def upstream_calls(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(f"{url}/_fake/calls") as reply:
        return sum(1 for c in await reply.json() if c["method"] == "generateContent")


async def drive(gateway: str, upstream: str, seconds: float, concurrency: int) -> None:
    url = f"{gateway}/v1beta/models/gemini-2.5-flash:generateContent"
    headers = {"x-goog-api-key": TOKEN, "content-type": "application/json"}
    counts = {"ok": 0, "failed": 0}
    marks: dict[str, tuple[int, int]] = {}
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            while time.monotonic() < deadline:
                async with session.post(url, data=BODY, headers=headers) as reply:
                    await reply.read()
                    counts["ok" if reply.status == 200 else "failed"] += 1

        async def mark_after_a_minute() -> None:
            await asyncio.sleep(min(60.0, seconds / 2))
            marks["minute"] = (counts["ok"] + counts["failed"], await upstream_calls(session, upstream))

        await asyncio.gather(mark_after_a_minute(), *(worker() for _ in range(concurrency)))
        total, calls = counts["ok"] + counts["failed"], await upstream_calls(session, upstream)
    requests_late, calls_late = total - marks["minute"][0], calls - marks["minute"][1]
    print(f"client requests: {total}, succeeded: {counts['ok']} ({100 * counts['ok'] / max(total, 1):.2f}%)")
    print(f"upstream calls per client request, whole run: {calls / max(total, 1):.3f}")
    late = calls_late / max(requests_late, 1)
    print(f"upstream calls per client request after the first minute: {late:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--redis", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="gempool-storm-"))
    upstream, url = start_upstream()
    keys = [f"quota-{i:03d}" for i in range(50)] + [f"ok-{i:03d}" for i in range(50, 100)]
    env = {
        "API_KEYS": ",".join(keys),
        "ALLOWED_TOKENS": TOKEN,
        "AUTH_TOKEN": "storm-admin",
        "BASE_URL": f"{url}/v1beta",
        "DATABASE_URL": f"sqlite:///{workdir}/storm.db",
        "LOG_LEVEL": "ERROR",
        "IMAGEHOST_DIR": str(workdir / "images"),
        "ADMIN_TOKEN_FILE": str(workdir / "admin_token"),
        "MAX_RETRIES": "3",
    }
    if args.redis:
        env |= {"REDIS_URL": "redis://127.0.0.1:6379/0", "REDIS_PREFIX": f"gempool-storm-{workdir.name}:"}
    stack = Stack(env=env, ports=Ports.free(), log_dir=workdir / "logs")
    try:
        stack.start_one("config")
        stack.wait_ready(60, ("config",))
        stack.start(("keypool", "imagehost", "gateway"))
        stack.wait_ready(60)
        time.sleep(1)  # the keypool loads its 100 keys
        shape = f"{args.seconds:.0f}s, c={args.concurrency}"
        print(f"429 storm: 100 keys (50 answer 429, RetryInfo 30s), {shape}")
        asyncio.run(drive(stack.gateway_url, url, args.seconds, args.concurrency))
    finally:
        stack.stop()
        upstream.terminate()
        upstream.wait(10)


if __name__ == "__main__":
    main()
