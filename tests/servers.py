"""Servers a cross-service test owns, so it may kill and restart them (never the machine's)."""

import subprocess
import time
from collections.abc import Callable

from gempool.common.devstack import free_port


class PrivateRedis:
    """A redis-server of the test's own, on a free port, without persistence: a restart empties it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc = start_redis(self.port)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def restart(self) -> None:
        self.stop()
        self.proc = start_redis(self.port)

    def kill(self) -> None:
        """SIGKILL: no goodbye to the clients."""
        self.proc.kill()
        self.proc.wait(10)

    def start(self) -> None:
        self.proc = start_redis(self.port)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def start_redis(port: int) -> "subprocess.Popen[bytes]":
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while (
        subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() != b"PONG"
    ):
        if time.monotonic() > deadline:
            raise RuntimeError("redis-server did not start")
        time.sleep(0.05)
    return proc


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``check`` every 0.1 s until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout:.0f}s: {what}"
        time.sleep(0.1)
