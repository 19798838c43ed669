"""Each key leaves through its own proxy: client traffic as well as probes, with PROXIES and
PROXIES_USE_CONSISTENCY_HASH_BY_API_KEY, through real HTTP forward proxies that mark what they carry."""

from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from gempool.common.devstack import Stack
from gempool.common.keys import key_id
from gempool.fakegemini.server import Running
from gempool.keypool.proxy import choose_proxy

from .conftest import StackFactory
from .forwardproxy import VIA, forward_proxy

TOKEN = "proxy-team-token"
KEYS = [f"ok-proxied-{i}" for i in range(6)]
HELLO = {"contents": [{"parts": [{"text": "hi"}]}]}

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def proxies() -> Iterator[dict[str, str]]:
    """Two proxies: url -> name."""
    with forward_proxy("proxy-a") as a, forward_proxy("proxy-b") as b:
        yield {a.url: a.name, b.url: b.name}


@pytest.fixture(scope="module")
def stack(make_stack: StackFactory, upstream: Running, pg_url: str, proxies: dict[str, str]) -> Stack:
    env = {
        "API_KEYS": ",".join(KEYS),
        "ALLOWED_TOKENS": TOKEN,
        "AUTH_TOKEN": "proxy-admin-token",
        "BASE_URL": f"{upstream.url}/v1beta",
        "DATABASE_URL": pg_url,
        "PROXIES": ",".join(proxies),
        "PROXIES_USE_CONSISTENCY_HASH_BY_API_KEY": "true",
    }
    return make_stack(env, logs="proxies", expect_keys=len(KEYS))


def test_client_traffic_leaves_through_each_keys_own_proxy(
    stack: Stack, upstream: Running, proxies: dict[str, str]
) -> None:
    upstream.fake.seen.clear()
    native = f"{stack.gateway_url}/v1beta/models/gemini-2.5-flash"
    with httpx.Client(headers={"x-goog-api-key": TOKEN}, timeout=30) as client:
        for _ in range(12):
            assert client.post(f"{native}:generateContent", json=HELLO).status_code == 200
        assert client.post(f"{native}:streamGenerateContent?alt=sse", json=HELLO).status_code == 200
        chat = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]}
        assert client.post(f"{stack.gateway_url}/v1/chat/completions", json=chat).status_code == 200
    model_calls = [r for r in upstream.fake.seen if r.path.startswith("/v1beta/models/gemini-2.5-flash:")]
    assert len(model_calls) >= 14
    wanted = {key: proxies[choose_proxy(key_id(key), tuple(proxies), True)] for key in KEYS}
    assert set(wanted.values()) == set(proxies.values())  # the keys are spread over both proxies
    for request in upstream.fake.seen:  # client calls and any probe alike
        assert request.header(VIA) == wanted[request.header("x-goog-api-key")], request.wire()
    carried = Counter(r.header(VIA) for r in model_calls)
    assert set(carried) == set(proxies.values()), carried
