"""``make bench``: the gateway against a fixed-answer upstream, side by side with that upstream.

Starts nginx answering every generateContent / streamGenerateContent with a fixed body (far faster
than any Python gateway), starts the four gempool services as processes (as `make run` does), and
drives both with wrk: p50/p99 latency at concurrency 1 and throughput at concurrency 32, for
non-streaming and streaming calls, then prints each service's RSS. Figures, not assertions.

Options: --seconds N (per run, default 10), --keys N (default 20), --redis (use the Redis store).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from upstream import NginxUpstream, ensure_tools  # noqa: E402

from gempool.common.devstack import Ports, Stack  # noqa: E402

TOKEN = "bench-token"
BODY = '{"contents":[{"role":"user","parts":[{"text":"Say hi"}]}]}'
LUA = """wrk.method = "POST"
wrk.body = '%s'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-goog-api-key"] = "%s"
"""


def wrk(url: str, connections: int, seconds: int, script: Path) -> dict[str, float]:
    cmd = [
        "wrk",
        "-t",
        "1" if connections == 1 else "2",
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(out: str) -> dict[str, float]:
    result: dict[str, float] = {}
    for pct in ("50", "99"):
        match = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        if match:
            result[f"p{pct}_ms"] = _ms(*match.groups())
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result["rps"] = float(rps.group(1)) if rps else 0.0
    total = re.search(r"(\d+) requests in", out)
    result["requests"] = float(total.group(1)) if total else 0.0
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["errors"] = float(errors.group(1)) if errors else 0.0
    if socket_errors:
        result["errors"] += sum(float(x) for x in socket_errors.groups())
    return result


def rss_mb(pid: int) -> float:
    """RSS of a process and its children (uvicorn workers), in MiB."""
    total = 0
    pids = [pid] + [
        int(p)
        for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    ]
    for each in pids:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(match.group(1)) if match else 0
    return total / 1024


def family(pid: int) -> list[int]:
    """A process and its children (uvicorn workers)."""
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [pid, *(int(p) for p in found)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children so far."""
    total = 0
    for each in family(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def start_stack(upstream_url: str, keys: int, redis: bool, workdir: Path, workers: int = 1) -> Stack:
    env = {
        "API_KEYS": ",".join(f"bench-key-{i:03d}" for i in range(keys)),
        "ALLOWED_TOKENS": TOKEN,
        "AUTH_TOKEN": "bench-admin",
        "BASE_URL": f"{upstream_url}/v1beta",
        "DATABASE_URL": f"sqlite:///{workdir}/bench.db",
        "LOG_LEVEL": "WARNING",
        "IMAGEHOST_DIR": str(workdir / "images"),
        "ADMIN_TOKEN_FILE": str(workdir / "admin_token"),
        "GATEWAY_WORKERS": str(workers),
    }
    if redis:
        env |= {
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "REDIS_PREFIX": f"gempool-bench-{uuid.uuid4().hex[:8]}:",
        }
    stack = Stack(env=env, ports=Ports.free(), log_dir=workdir / "logs")
    stack.start_one("config")
    stack.wait_ready(60, ("config",))
    stack.start(("keypool", "imagehost", "gateway"))
    stack.wait_ready(60)
    return stack


def warm(url: str, script: Path) -> None:
    subprocess.run(
        ["wrk", "-t", "1", "-c", "4", "-d", "2s", "-s", str(script), url], capture_output=True, check=False
    )


def row(name: str, r: dict[str, float]) -> str:
    return (
        f"{name:<34} {r.get('p50_ms', 0):>9.3f} {r.get('p99_ms', 0):>9.3f} {r['rps']:>10.0f} "
        f"{int(r['errors']):>7d}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--keys", type=int, default=20)
    parser.add_argument("--redis", action="store_true")
    parser.add_argument("--workers", type=int, default=2, help="GATEWAY_WORKERS (one per core here)")
    args = parser.parse_args()
    ensure_tools()
    workdir = Path(tempfile.mkdtemp(prefix="gempool-bench-"))
    script = workdir / "post.lua"
    script.write_text(LUA % (BODY, TOKEN))
    with NginxUpstream(workdir) as upstream:
        stack = start_stack(upstream.url, args.keys, args.redis, workdir, args.workers)
        store = "Redis" if args.redis else "in-memory"
        print(f"gateway workers: {args.workers}, keys: {args.keys}, store: {store}, {args.seconds}s per run")
        try:
            report(stack, upstream.url, script, args.seconds)
        finally:
            stack.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def report(stack: Stack, upstream_url: str, script: Path, seconds: int) -> None:
    paths = {
        "non-stream": "gemini-2.5-flash:generateContent",
        "stream": "gemini-2.5-flash:streamGenerateContent?alt=sse",
    }
    print(f"{'run':<34} {'p50 ms':>9} {'p99 ms':>9} {'req/s':>10} {'errors':>7}")
    for kind, path in paths.items():
        direct = f"{upstream_url}/v1beta/models/{path}"
        gateway = f"{stack.gateway_url}/v1beta/models/{path}"
        warm(gateway, script)
        results = {}
        cpu: dict[str, float] = {}
        for target, url in (("upstream direct", direct), ("through gempool", gateway)):
            results[(target, 1)] = wrk(url, 1, seconds, script)
            before = {name: cpu_seconds(proc.pid) for name, proc in stack.procs.items()}
            results[(target, 32)] = wrk(url, 32, seconds, script)
            served = max(results[(target, 32)]["requests"], 1.0)
            cpu = {name: (cpu_seconds(p.pid) - before[name]) / served for name, p in stack.procs.items()}
            for conc in (1, 32):
                print(row(f"{kind} {target} c={conc}", results[(target, conc)]), flush=True)
        # CPU per request varies far less between runs than latency on a shared 2-core machine.
        per_request = ", ".join(f"{name} {seconds * 1e6:.0f}" for name, seconds in cpu.items() if seconds > 0)
        print(f"{kind}: CPU per request at c=32 (us): {per_request}")
        added = results[("through gempool", 1)].get("p50_ms", 0) - results[("upstream direct", 1)].get(
            "p50_ms", 0
        )
        print(
            f"{kind}: gempool adds {added:.3f} ms p50 at c=1; "
            f"{results[('through gempool', 32)]['rps']:.0f} req/s at c=32\n"
        )
    time.sleep(0.5)
    for name, proc in stack.procs.items():
        print(f"RSS {name:<10} {rss_mb(proc.pid):7.1f} MiB")


if __name__ == "__main__":
    main()
