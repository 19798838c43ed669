"""Run the four services as separate local processes, as compose does (``make run``, tests).

``python -m gempool.common.devstack`` starts config, keypool, imagehost and gateway with the
embedded defaults (SQLite under ./data, in-memory key store) plus whatever the environment and
``.env`` say, prints where the gateway listens, and stops everything on Ctrl-C.

The gRPC services listen on loopback only, and share an internal credential (INTERNAL_TOKEN): the
one the environment or ``.env`` gives, else a random one made for this run.
"""

import contextlib
import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

SERVICES = ("config", "keypool", "imagehost", "gateway")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def grpc_serving(address: str, timeout: float = 1.0) -> bool:
    try:
        with grpc.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=timeout)
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
    except grpc.RpcError:
        return False


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:  # noqa: S310 - local address
            return bool(reply.status == 200)
    except (OSError, http.client.HTTPException):  # not HTTP: something else holds the port (yet)
        return False


@dataclass
class Ports:
    gateway: int = 8000
    keypool: int = 50051
    config: int = 50052
    imagehost: int = 50053
    metrics: dict[str, int] = field(
        default_factory=lambda: {"keypool": 9101, "config": 9102, "imagehost": 9103}
    )

    @classmethod
    def free(cls) -> "Ports":
        return cls(
            free_port(),
            free_port(),
            free_port(),
            free_port(),
            dict.fromkeys(("keypool", "config", "imagehost"), -1),
        )

    @classmethod
    def named(cls, env: Mapping[str, str]) -> "Ports":
        """The default ports, except those ``env`` names (PORT, KEYPOOL_PORT, CONFIG_METRICS_PORT...)."""
        default = cls()
        metrics = {s: int(env.get(f"{s.upper()}_METRICS_PORT", p)) for s, p in default.metrics.items()}
        return cls(
            int(env.get("PORT", default.gateway)),
            int(env.get("KEYPOOL_PORT", default.keypool)),
            int(env.get("CONFIG_PORT", default.config)),
            int(env.get("IMAGEHOST_PORT", default.imagehost)),
            metrics,
        )

    def env(self) -> dict[str, str]:
        return {
            "PORT": str(self.gateway),
            "KEYPOOL_PORT": str(self.keypool),
            "CONFIG_PORT": str(self.config),
            "IMAGEHOST_PORT": str(self.imagehost),
            "KEYPOOL_METRICS_PORT": str(self.metrics["keypool"]),
            "CONFIG_METRICS_PORT": str(self.metrics["config"]),
            "IMAGEHOST_METRICS_PORT": str(self.metrics["imagehost"]),
            "KEYPOOL_ADDR": f"127.0.0.1:{self.keypool}",
            "CONFIG_ADDR": f"127.0.0.1:{self.config}",
            "IMAGEHOST_ADDR": f"127.0.0.1:{self.imagehost}",
        }


@dataclass
class Stack:
    """The four services as child processes sharing one environment and one internal credential."""

    env: Mapping[str, str]
    ports: Ports = field(default_factory=Ports)
    log_dir: Path | None = None
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    internal_token: str = ""  # empty: env's INTERNAL_TOKEN, else a random one

    def __post_init__(self) -> None:
        self.internal_token = (
            self.internal_token
            or self.env.get("INTERNAL_TOKEN")
            or os.environ.get("INTERNAL_TOKEN")
            or secrets.token_urlsafe(32)
        )

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    def start(self, services: tuple[str, ...] = SERVICES) -> None:
        for name in services:
            self.start_one(name)

    def start_one(self, name: str) -> None:
        env = {
            **os.environ,
            **self.env,
            **self.ports.env(),
            "GRPC_HOST": "127.0.0.1",  # every address above is loopback: nothing else needs to reach them
            "INTERNAL_TOKEN": self.internal_token,
            "PYTHONUNBUFFERED": "1",
        }
        out = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = (self.log_dir / f"{name}.log").open("ab")
        try:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", f"gempool.{name}"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT if out else None,
            )
        finally:
            if out is not None:
                out.close()  # the child holds its own copy

    def wait_ready(self, timeout: float = 60.0, services: tuple[str, ...] = SERVICES) -> None:
        deadline = time.monotonic() + timeout
        checks = {
            "config": lambda: grpc_serving(f"127.0.0.1:{self.ports.config}"),
            "keypool": lambda: grpc_serving(f"127.0.0.1:{self.ports.keypool}"),
            "imagehost": lambda: grpc_serving(f"127.0.0.1:{self.ports.imagehost}"),
            "gateway": lambda: http_ok(f"{self.gateway_url}/readyz"),
        }
        pending = [s for s in services if s in checks]
        while pending:
            for name in list(pending):
                proc = self.procs.get(name)
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with code {proc.returncode} while starting")
                if checks[name]():
                    pending.remove(name)
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout:.0f}s: {', '.join(pending)}")
            if pending:
                time.sleep(0.1)

    def stop_one(self, name: str, timeout: float = 10.0) -> int | None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def stop(self) -> None:
        for name in reversed(list(self.procs)):
            self.stop_one(name)


def _admin_token_source(env: Mapping[str, str]) -> str:
    if env.get("AUTH_TOKEN"):
        return "AUTH_TOKEN from the environment / .env (its digest stored in the database on the first start)"
    path = Path(env.get("ADMIN_TOKEN_FILE", "./data/admin_token"))
    if path.exists():
        reset = "`python -m gempool.config reset-admin-token` makes a new one"
        return f"in {path}, generated on the first start ({reset})"
    return "see the config service's log"


def main() -> None:
    env: dict[str, str] = {}
    with contextlib.suppress(FileNotFoundError):
        from dotenv import dotenv_values  # pydantic-settings depends on python-dotenv

        env = {k: v for k, v in dotenv_values(".env").items() if v is not None}
    Path("data").mkdir(exist_ok=True)
    ports = Ports.named({**env, **os.environ})
    stack = Stack(env=env, ports=ports)
    stopping = False

    def on_signal(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start_one("config")
        stack.wait_ready(60, ("config",))
        stack.start(("keypool", "imagehost", "gateway"))
        stack.wait_ready(60)
        print(f"\ngempool is up: {stack.gateway_url}")  # noqa: T201
        print(f"admin token: {_admin_token_source({**env, **os.environ})}\nCtrl-C stops it.\n")  # noqa: T201
        while not stopping and all(p.poll() is None for p in stack.procs.values()):
            time.sleep(0.2)
    except (RuntimeError, TimeoutError) as exc:
        print(f"gempool did not start: {exc}", file=sys.stderr)  # noqa: T201
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
