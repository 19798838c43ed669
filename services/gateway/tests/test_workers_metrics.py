"""GATEWAY_WORKERS=2, real processes: every scrape of /metrics tells the sum over both workers,
whichever worker answers it, and a run starts from zero even when the directory held an old run's
values."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

BATCH = 8
STALE = 7  # an earlier run's count left in the directory


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def leave_stale_values(directory: Path) -> None:
    """What a killed earlier run leaves: its workers' files, with counts in them."""
    code = (
        "from prometheus_client import Counter\n"
        f"Counter('gempool_gateway_refused_requests', 'x', ['reason']).labels('starting').inc({STALE})\n"
    )
    env = os.environ | {"PROMETHEUS_MULTIPROC_DIR": str(directory)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    assert list(directory.glob("counter_*.db"))


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    leave_stale_values(metrics_dir)
    port = free_port()
    env = os.environ | {
        "GATEWAY_WORKERS": "2",
        "PORT": str(port),
        "HOST": "127.0.0.1",
        # Nothing listens there: the gateway never gets settings and answers 503 "starting".
        "KEYPOOL_ADDR": "127.0.0.1:1",
        "CONFIG_ADDR": "127.0.0.1:1",
        "IMAGEHOST_ADDR": "127.0.0.1:1",
        "LOG_SPOOL_DIR": str(tmp_path / "spool"),
        "REDIS_URL": "",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gempool.gateway"], env=env, cwd=tmp_path, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("the gateway did not start")
        yield base, metrics_dir
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def refused(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "gempool_gateway_refused_requests_total"
                and sample.labels["reason"] == "starting"
            ):
                return sample.value
    raise AssertionError("no refused_requests series")


def fresh_client() -> httpx.Client:
    """A new connection per request, so the kernel spreads them over the workers."""
    return httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=10)


def served_by_worker(metrics_dir: Path) -> dict[str, float]:
    """pid -> the "starting" refusals that worker counted (read from its own file)."""
    out = {}
    for path in metrics_dir.glob("counter_*.db"):
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):  # type: ignore[no-untyped-call]
            if '"starting"' in key and "refused_requests" in key:
                out[path.stem.rsplit("_", 1)[-1]] = value
    return out


def wait_for_both_workers(metrics_dir: Path) -> None:
    """Each worker writes its (zero) counters as it builds its app."""
    deadline = time.monotonic() + 60
    while len(served_by_worker(metrics_dir)) < 2:
        assert time.monotonic() < deadline, "the second worker did not start"
        time.sleep(0.2)


def test_every_scrape_sums_both_workers(gateway: tuple[str, Path]) -> None:
    base, metrics_dir = gateway
    wait_for_both_workers(metrics_dir)
    url = f"{base}/v1beta/models/gemini-2.5-flash:generateContent?key=any"
    sent = 0
    with fresh_client() as client, ThreadPoolExecutor(8) as pool:
        # Concurrent connections, until both workers answered some (the kernel picks who accepts).
        while sent < 400 and not (
            len(per_worker := served_by_worker(metrics_dir)) == 2 and all(per_worker.values())
        ):
            statuses = list(pool.map(lambda _: client.post(url, json={}).status_code, range(BATCH)))
            assert statuses == [503] * BATCH
            sent += BATCH
        assert all(per_worker.values()), f"one worker served all: {per_worker}"
        assert sum(per_worker.values()) == sent
        seen = [refused(client.get(f"{base}/metrics").text) for _ in range(12)]
        text = client.get(f"{base}/metrics").text
    assert seen == [sent] * len(seen), "each scrape must count every worker's requests, once"
    families = {family.name for family in text_string_to_metric_families(text)}
    assert {"process_cpu_seconds", "process_resident_memory_bytes", "gempool_build_info"} <= families
