"""Faults of the services themselves under load: a keypool replica SIGKILLed or SIGTERMed, both
keypools gone, the config service SIGKILLed and restarted, the imagehost SIGKILLed and restarted.

Two gateways and two keypools run as processes over one private Redis, one PostgreSQL database,
one config service and one imagehost; each gateway reaches both keypools (gRPC round_robin over
both addresses, as over a headless Service). Eight clients, in both dialects, keep asking while
each fault is injected. Asserted each time: what the clients saw, that the pool serves again by
itself within ``BACK_WITHIN``, that no key was retired, and that the request log holds exactly one
record per client request. The gateway's own SIGTERM/SIGKILL is ``test_fault_gateway.py``'s.
"""

import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import openai
import psycopg
import pytest
from pytest import TempPathFactory

from gempool.api.keypool.v1 import keypool_pb2, keypool_pb2_grpc
from gempool.common import internalauth
from gempool.common.devstack import Ports, Stack, grpc_serving, http_ok
from gempool.fakegemini.answers import PNG_1PX
from gempool.fakegemini.server import Running

from .conftest import wait_for_keys
from .servers import PrivateRedis, wait_until

TOKEN = "svc-fault-token"
KEYS = [f"ok-svc{i}" for i in range(6)]
PAID = "ok-svc-paid"
CLIENTS = 8
PAUSE = 0.05  # between one client's requests: load, not a CPU contest on a shared 2-core machine
BACK_WITHIN = 10.0  # seconds from a restarted process being ready until the pool serves again
ROUTES = {  # dialect: (path, body, headers)
    "native": (
        "/v1beta/models/gemini-2.5-flash:generateContent",
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        {"x-goog-api-key": TOKEN},
    ),
    "openai": (
        "/v1/chat/completions",
        {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]},
        {"authorization": f"Bearer {TOKEN}"},
    ),
}

pytestmark = pytest.mark.e2e

Answer = tuple[float, float, int, bytes, str]  # began, ended, status, body, dialect


@dataclass
class SharedPorts(Ports):
    """A stack's ports, its gateway reaching every keypool of the module (round_robin)."""

    keypools: tuple[int, ...] = ()

    def env(self) -> dict[str, str]:
        return {**super().env(), "KEYPOOL_ADDR": "ipv4:" + ",".join(f"127.0.0.1:{p}" for p in self.keypools)}


@dataclass
class Services:
    """Replica ``a`` (config, imagehost, keypool, gateway) and ``b`` (keypool, gateway)."""

    a: Stack
    b: Stack
    pg_url: str

    @property
    def replicas(self) -> tuple[Stack, Stack]:
        return self.a, self.b

    def restart(self, stack: Stack, name: str) -> None:
        stack.start_one(name)
        stack.wait_ready(60, (name,))

    def kill(self, stack: Stack, name: str) -> None:
        proc = stack.procs.pop(name)
        proc.kill()
        proc.wait(10)


@dataclass
class Load:
    """``CLIENTS`` threads asking the two gateways in turn until stopped; every answer kept.

    Even clients speak Google's dialect, odd ones OpenAI's, so an outage is seen in both."""

    urls: tuple[str, str]
    results: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> "Load":
        self._threads = [threading.Thread(target=self._client, args=(i,)) for i in range(CLIENTS)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _client(self, n: int) -> None:
        base, dialect = self.urls[n % 2], ("native", "openai")[n // 2 % 2]
        path, body, headers = ROUTES[dialect]
        with httpx.Client(base_url=base, headers=headers, timeout=20) as client:
            while not self._stop.is_set():
                began = time.monotonic()
                try:
                    reply = client.post(path, json=body)
                    status, content = reply.status_code, reply.content
                except httpx.HTTPError:
                    status, content = -1, b""
                self.results.append((began, time.monotonic(), status, content, dialect))
                time.sleep(PAUSE)

    def settle(self, answers: int = 2 * CLIENTS, timeout: float = 20.0) -> None:
        """Wait until ``answers`` more answers came (the loaded machine is slow to warm up)."""
        wanted, deadline = len(self.results) + answers, time.monotonic() + timeout
        while len(self.results) < wanted:
            assert time.monotonic() < deadline, f"only {len(self.results)} answers in {timeout:.0f}s"
            time.sleep(0.05)

    def failures(self) -> list[tuple[int, bytes]]:
        return [(s, c[:160]) for _, _, s, c, _ in list(self.results) if s != 200]

    def statuses(self, start: float = 0.0, end: float = 1e12) -> list[int]:
        return [s for began, ended, s, *_ in list(self.results) if start <= began and ended <= end]

    def serving_since(self, since: float, timeout: float = BACK_WITHIN) -> float:
        """Seconds from ``since`` until the first of 8 successes in a row begun after it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = sorted((r for r in list(self.results) if r[0] >= since), key=lambda r: r[0])
            for i in range(len(done) - 7):
                if all(r[2] == 200 for r in done[i : i + 8]):
                    return done[i][0] - since
            time.sleep(0.1)
        raise AssertionError(f"not serving {timeout:.0f}s after the fault: {self.statuses(since)[-20:]}")


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: TempPathFactory, upstream: Running, pg_url: str, redis_server: PrivateRedis
) -> Iterator[Services]:
    env = {
        "API_KEYS": ",".join(KEYS),
        "PAID_KEY": PAID,
        "ALLOWED_TOKENS": TOKEN,
        "AUTH_TOKEN": "svc-fault-admin-token",
        "BASE_URL": f"{upstream.url}/v1beta",
        "DATABASE_URL": pg_url,
        "REDIS_URL": redis_server.url,
        "REDIS_PREFIX": "gempool-svc-fault:",
        "LOG_LEVEL": "INFO",
        "LOG_FLUSH_SECONDS": "0.5",
        "MAX_RETRIES": "3",
        "MAX_FAILURES": "3",
    }
    a_ports, b_ports = SharedPorts(**vars(Ports.free())), SharedPorts(**vars(Ports.free()))
    b_ports.config, b_ports.imagehost = a_ports.config, a_ports.imagehost
    a_ports.keypools = b_ports.keypools = (a_ports.keypool, b_ports.keypool)
    a = _stack(tmp_path_factory, env, a_ports, "svc-a")
    b = _stack(tmp_path_factory, env, b_ports, "svc-b", a.internal_token)  # b calls a's config
    try:
        _start(a, b)
        yield Services(a, b, pg_url)
    finally:  # callers first: a keypool stopped under open streams waits out its grace
        for stack, name in [(b, "gateway"), (a, "gateway"), (b, "keypool")]:
            stack.stop_one(name)
        a.stop()


def _stack(factory: TempPathFactory, env: dict[str, str], ports: Ports, name: str, token: str = "") -> Stack:
    log_dir = factory.mktemp(name)
    private = {
        "IMAGEHOST_DIR": str(log_dir / "images"),
        "ADMIN_TOKEN_FILE": str(log_dir / "admin_token"),
        "LOG_SPOOL_DIR": str(log_dir / "log-spool"),
    }
    return Stack(env={**env, **private}, ports=ports, log_dir=log_dir, internal_token=token)


def _start(a: Stack, b: Stack) -> None:
    """Config first (the others read their settings from it), then the rest side by side."""
    a.start_one("config")
    a.wait_ready(60, ("config",))
    a.start(("keypool", "imagehost", "gateway"))
    b.start(("keypool", "gateway"))
    a.wait_ready(90, ("keypool", "imagehost", "gateway"))
    b.wait_ready(90, ("keypool", "gateway"))
    wait_for_keys(a, len(KEYS) + 1)
    wait_for_keys(b, len(KEYS) + 1)


def logged(pg_url: str) -> int:
    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
        row = conn.execute("SELECT count(*) FROM request_logs").fetchone()
    return int(row[0]) if row else 0


def logged_before(pg_url: str) -> int:
    """The request log's size once records of earlier tests stopped arriving."""
    count, still_since = logged(pg_url), time.monotonic()
    while time.monotonic() - still_since < 1.5:
        time.sleep(0.25)
        if (now := logged(pg_url)) != count:
            count, still_since = now, time.monotonic()
    return count


def assert_logged_once_each(pg_url: str, before: int, requests: int) -> None:
    """The request log grew by exactly ``requests`` records, and no more come later."""
    wait_until(lambda: logged(pg_url) >= before + requests, 20, f"{requests} request log records")
    time.sleep(1.5)  # three flush periods: a duplicate would have come by now
    assert logged(pg_url) - before == requests, "one record per client request"


def assert_no_key_retired(services: Services) -> None:
    with psycopg.connect(services.pg_url.replace("+psycopg", "")) as conn:
        stored: dict[str, str] = dict(conn.execute("SELECT key_id, status FROM api_keys").fetchall())
    assert len(stored) == len(KEYS) + 1 and set(stored.values()) == {"active"}, stored
    for stack in services.replicas:
        with internalauth.sync_channel(f"127.0.0.1:{stack.ports.keypool}", stack.internal_token) as channel:
            reply = keypool_pb2_grpc.KeyPoolServiceStub(channel).ListKeys(
                keypool_pb2.ListKeysRequest(page_size=100), timeout=5
            )
        assert {k.state for k in reply.keys} == {keypool_pb2.KEY_STATE_ACTIVE}


def honest_unavailable(status: int, content: bytes, dialect: str) -> bool:
    """A 503 in the caller's dialect: Google's UNAVAILABLE, or OpenAI's error object."""
    if status != 503:
        return False
    error = httpx.Response(200, content=content).json().get("error", {})
    if dialect == "native":
        return bool(error.get("status") == "UNAVAILABLE" and error.get("code") == 503 and error["message"])
    return bool(error.get("message") and error.get("type"))


def urls(services: Services) -> tuple[str, str]:
    return services.a.gateway_url, services.b.gateway_url


def test_a_sigkilled_keypool_replica_costs_clients_nothing(services: Services) -> None:
    """The replica hangs a moment first, so leases are in flight on its streams when it dies:
    those are asked again of the other replica."""
    before = logged_before(services.pg_url)
    with Load(urls(services)) as load:
        load.settle()
        services.b.procs["keypool"].send_signal(signal.SIGSTOP)
        time.sleep(0.5)  # well within a lease's timeout
        services.kill(services.b, "keypool")
        killed = time.monotonic()
        load.settle(3 * CLIENTS)
        services.restart(services.b, "keypool")
        load.serving_since(time.monotonic())
    assert not load.failures(), "a healthy replica remains: no client sees the fault"
    assert load.statuses(killed), "the clients kept asking while the replica was gone"
    assert_no_key_retired(services)
    assert_logged_once_each(services.pg_url, before, len(load.results))


def test_a_sigtermed_keypool_replica_costs_clients_nothing(services: Services) -> None:
    before = logged_before(services.pg_url)
    with Load(urls(services)) as load:
        load.settle()
        services.a.procs["keypool"].terminate()
        assert services.a.procs.pop("keypool").wait(15) == 0, "a clean stop within its grace"
        load.settle(2 * CLIENTS)
        services.restart(services.a, "keypool")
        load.serving_since(time.monotonic())
    assert not load.failures(), "a healthy replica remains: no client sees the fault"
    assert_no_key_retired(services)
    assert_logged_once_each(services.pg_url, before, len(load.results))


def test_without_any_keypool_clients_are_told_503_in_their_dialect(services: Services) -> None:
    before = logged_before(services.pg_url)
    with Load(urls(services)) as load:
        load.settle()
        for stack in services.replicas:
            services.kill(stack, "keypool")
        down = time.monotonic()
        time.sleep(1.5)
        for stack in services.replicas:
            stack.start_one("keypool")
        up = time.monotonic()
        for stack in services.replicas:
            stack.wait_ready(60, ("keypool",))
        load.serving_since(time.monotonic())  # from the keypools' readiness: starting is slow here
    during = [r for r in list(load.results) if r[0] >= down + 0.3 and r[1] <= up]
    assert during, "the clients kept asking while no keypool ran"
    unhonest = [(s, c[:120]) for _, _, s, c, d in during if not honest_unavailable(s, c, d)]
    assert not unhonest, "nothing can serve: an honest 503, never a 429, 500 or 200"
    assert {d for *_, d in during} == {"native", "openai"}
    assert_no_key_retired(services)
    assert_logged_once_each(services.pg_url, before, len(load.results))


def test_a_sigkilled_config_service_costs_clients_nothing_and_loses_no_log(services: Services) -> None:
    before = logged_before(services.pg_url)
    with Load(urls(services)) as load:
        load.settle()
        services.kill(services.a, "config")
        load.settle(3 * CLIENTS)
        assert all(http_ok(f"{g}/readyz") for g in urls(services)), "a gateway with settings stays ready"
        services.restart(services.a, "config")
        load.serving_since(time.monotonic())
    assert not load.failures(), "keys and settings are held: config is not on the request path"
    assert_no_key_retired(services)
    assert_logged_once_each(services.pg_url, before, len(load.results))


def test_a_sigkilled_imagehost_is_told_honestly_and_serves_again(services: Services) -> None:
    before = logged_before(services.pg_url)
    client = openai.OpenAI(base_url=f"{services.b.gateway_url}/v1", api_key=TOKEN, max_retries=0)
    link = (client.images.generate(prompt="a cat", response_format="url").data or [])[0].url or ""
    assert link.startswith(services.b.gateway_url + "/images/") and httpx.get(link).content == PNG_1PX
    services.kill(services.a, "imagehost")
    try:
        down = httpx.get(link, timeout=15)
        made = (client.images.generate(prompt="a dog", response_format="url").data or [])[0].url or ""
    finally:
        services.restart(services.a, "imagehost")
    error = down.json()["error"]
    assert down.status_code == 503 and error["status"] == "UNAVAILABLE", down.text
    assert "127.0.0.1" not in down.text and "ipv4" not in down.text, "no internal address to the client"
    assert made.startswith("data:image/png;base64,"), "still a working link, inline"
    back = time.monotonic()
    wait_until(lambda: httpx.get(link, timeout=5).status_code == 200, BACK_WITHIN, "images served again")
    assert httpx.get(link).content == PNG_1PX and time.monotonic() - back < BACK_WITHIN
    assert grpc_serving(f"127.0.0.1:{services.a.ports.imagehost}")
    assert_logged_once_each(services.pg_url, before, 2)
