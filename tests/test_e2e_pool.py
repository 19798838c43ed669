"""The key pool across replicas: two keypools and two gateways on one Redis and one config
service, driven through the gateways with the google-genai SDK and plain HTTP."""

import collections
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from google import genai
from google.genai import types

from gempool.api.keypool.v1 import keypool_pb2, keypool_pb2_grpc
from gempool.common import internalauth
from gempool.common.devstack import Stack
from gempool.common.keys import key_id
from gempool.fakegemini.behaviour import Behaviour
from gempool.fakegemini.server import Running

from .conftest import StackFactory
from .servers import PrivateRedis

TOKEN = "pool-team-token"
HEALTHY = ["ok-k1", "ok-k2", "ok-k3", "ok-k4"]
BAD = ["invalid-k5", "leaked-k6", "quota-k7", "overload-k8"]

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def replicas(
    make_stack: StackFactory, upstream: Running, pg_url: str, redis_server: PrivateRedis
) -> list[Stack]:
    env = {
        "API_KEYS": ",".join(HEALTHY + BAD),
        "ALLOWED_TOKENS": TOKEN,
        "AUTH_TOKEN": "pool-admin-token",
        "BASE_URL": f"{upstream.url}/v1beta",
        "DATABASE_URL": pg_url,
        "REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/0",
        "REDIS_PREFIX": "gempool-pool-test:",
        "MAX_RETRIES": str(len(BAD)),
        "MAX_FAILURES": "3",
    }
    first = make_stack(env, logs="replica-a", expect_keys=len(HEALTHY + BAD))
    second = make_stack(env, logs="replica-b", expect_keys=len(HEALTHY + BAD), replica_of=first)
    return [first, second]


def generate(stack: Stack, text: str) -> httpx.Response:
    url = f"{stack.gateway_url}/v1beta/models/gemini-2.5-flash:generateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    return httpx.post(url, headers={"x-goog-api-key": TOKEN}, json=body, timeout=30)


def keys_by_state(stack: Stack) -> dict[str, str]:
    with internalauth.sync_channel(f"127.0.0.1:{stack.ports.keypool}", stack.internal_token) as channel:
        stub = keypool_pb2_grpc.KeyPoolServiceStub(channel)
        reply = stub.ListKeys(keypool_pb2.ListKeysRequest(page_size=100), timeout=5)
    return {k.key_id: keypool_pb2.KeyState.Name(k.state) for k in reply.keys}


def test_mixed_pool_every_sdk_request_succeeds(replicas: list[Stack], upstream: Running) -> None:
    upstream.fake.calls.clear()
    upstream.fake.rules.keys["quota-k7"] = Behaviour("quota", 600)  # RetryInfo: 600s, outlasting the module
    clients = [
        genai.Client(api_key=TOKEN, http_options=types.HttpOptions(base_url=s.gateway_url)) for s in replicas
    ]
    for i in range(100):
        reply = clients[i % 2].models.generate_content(model="gemini-2.5-flash", contents=f"q{i}")
        assert reply.text is not None and reply.text.startswith(f"Echo: q{i}")
    tried = collections.Counter(c["key"] for c in upstream.fake.calls)
    assert tried["invalid-k5"] == 1 and tried["leaked-k6"] == 1, tried
    assert tried["quota-k7"] == 1, "a 429 cools the key for the model: no second call within 30 s"
    states = keys_by_state(replicas[1])
    assert states[key_id("invalid-k5")] == "KEY_STATE_RETIRED"
    assert states[key_id("leaked-k6")] == "KEY_STATE_RETIRED"
    assert states[key_id("quota-k7")] == "KEY_STATE_COOLING"
    assert states[key_id("overload-k8")] == "KEY_STATE_ACTIVE", "a 503 is the model's trouble, not the key's"


def test_rotation_is_fair_across_replicas(replicas: list[Stack], upstream: Running) -> None:
    upstream.fake.calls.clear()
    upstream.fake.rules.keys["overload-k8"] = Behaviour("ok")  # the model recovered
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda i: generate(replicas[i % 2], f"f{i}"), range(200)))
    assert all(r.status_code == 200 for r in replies)
    served = collections.Counter(c["key"] for c in upstream.fake.calls)
    eligible = [*HEALTHY, "overload-k8"]  # now healthy too; retired and cooling keys get nothing
    for key in eligible:
        assert abs(served[key] - 200 / len(eligible)) <= 2, served
    assert sum(served[k] for k in eligible) == 200


def test_key_turning_invalid_is_leased_at_most_once_more(replicas: list[Stack], upstream: Running) -> None:
    upstream.fake.calls.clear()
    upstream.fake.rules.keys["ok-k4"] = Behaviour("invalid")
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda i: generate(replicas[i % 2], f"t{i}"), range(100)))
    assert all(r.status_code == 200 for r in replies)
    calls = [c for c in upstream.fake.calls if c["key"] == "ok-k4"]
    assert 1 <= len(calls) <= 2, f"{len(calls)} calls with the key after it turned invalid"
    assert keys_by_state(replicas[0])[key_id("ok-k4")] == "KEY_STATE_RETIRED"


def test_metrics_name_keys_and_retries(replicas: list[Stack]) -> None:
    text = httpx.get(f"{replicas[0].gateway_url}/metrics").text
    assert "gempool_gateway_requests_total" in text
    assert "gempool_gateway_retries_per_request_bucket" in text
    assert "ok-k1" not in text and "invalid-k5" not in text, "a key never appears in a metric"


def test_restart_of_redis_and_every_service_keeps_retired_keys(
    replicas: list[Stack], upstream: Running, redis_server: PrivateRedis
) -> None:
    for stack in reversed(replicas):
        stack.stop()
    redis_server.restart()  # comes back empty: cooldowns are gone, retirement must not be
    for stack in replicas:
        stack.start(("config", "keypool", "gateway") if stack is replicas[0] else ("keypool", "gateway"))
        stack.wait_ready(60, tuple(stack.procs))
    deadline = time.monotonic() + 30
    while keys_by_state(replicas[1]).get(key_id("invalid-k5")) != "KEY_STATE_RETIRED":
        assert time.monotonic() < deadline, "retired keys must stay retired after a restart"
        time.sleep(0.2)
    upstream.fake.calls.clear()
    for i in range(20):
        assert generate(replicas[i % 2], f"r{i}").status_code == 200
    used = {c["key"] for c in upstream.fake.calls}
    assert not used & {"invalid-k5", "leaked-k6", "ok-k4"}, used
