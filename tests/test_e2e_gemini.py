"""The Gemini-native API end to end: four service processes, real PostgreSQL and Redis, the
official google-genai SDK, and the fake Gemini upstream."""

import httpx
import pytest
from google import genai
from google.genai import errors, types

from gempool.common.devstack import Stack
from gempool.fakegemini.server import Running

from .conftest import StackFactory

TOKEN = "team-token-1"
KEYS = ["ok-alpha", "ok-beta", "invalid-gamma"]

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(make_stack: StackFactory, upstream: Running, pg_url: str, redis_prefix: str) -> Stack:
    env = {
        "API_KEYS": '["' + '","'.join(KEYS) + '"]',
        "ALLOWED_TOKENS": f'["{TOKEN}"]',
        "AUTH_TOKEN": "admin-secret-token",
        "BASE_URL": f"{upstream.url}/v1beta",
        "DATABASE_URL": pg_url,
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "REDIS_PREFIX": redis_prefix,
        "MAX_RETRIES": "3",
    }
    return make_stack(env, expect_keys=len(KEYS))


@pytest.fixture(autouse=True)
def fresh_upstream(upstream: Running) -> None:
    upstream.fake.calls.clear()
    upstream.fake.rules.chunks = 3


def client(stack: Stack, token: str = TOKEN, api_version: str | None = None) -> genai.Client:
    options = types.HttpOptions(base_url=stack.gateway_url, api_version=api_version)
    return genai.Client(api_key=token, http_options=options)


@pytest.mark.parametrize("api_version", [None, "v1beta"])
def test_generate_content_answers(stack: Stack, upstream: Running, api_version: str | None) -> None:
    gemini = client(stack, api_version=api_version)
    reply = gemini.models.generate_content(model="gemini-2.5-flash", contents="hello there")
    assert reply.text is not None and reply.text.startswith("Echo: hello there")
    served = [c for c in upstream.fake.calls if c["method"] == "generateContent"]
    assert served and served[-1]["path"].startswith(f"/{api_version or 'v1'}/models/gemini-2.5-flash")
    assert all(c["key"] != TOKEN for c in upstream.fake.calls), "the client's token must never go upstream"


@pytest.mark.parametrize("api_version", [None, "v1beta"])
def test_stream_arrives_in_chunks(stack: Stack, upstream: Running, api_version: str | None) -> None:
    upstream.fake.rules.chunks = 4
    gemini = client(stack, api_version=api_version)
    chunks = list(gemini.models.generate_content_stream(model="gemini-2.5-flash", contents="stream me"))
    assert len(chunks) == 4
    assert "".join(c.text or "" for c in chunks) == "Echo: stream me part1 part2 part3"


@pytest.mark.parametrize("api_version", [None, "v1beta"])
def test_models_list(stack: Stack, api_version: str | None) -> None:
    gemini = client(stack, api_version=api_version)
    names = [m.name for m in gemini.models.list()]
    assert "models/gemini-2.5-flash" in names and "models/gemini-2.5-pro" in names


def test_wrong_token_is_refused(stack: Stack, upstream: Running) -> None:
    gemini = client(stack, token="not-our-token")
    with pytest.raises(errors.ClientError) as caught:
        gemini.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert caught.value.code == 401
    assert not upstream.fake.calls, "a refused request must not reach the upstream"


def test_invalid_key_never_fails_a_client(stack: Stack, upstream: Running) -> None:
    gemini = client(stack)
    for i in range(12):
        reply = gemini.models.generate_content(model="gemini-2.5-flash", contents=f"n{i}")
        assert reply.text == f"Echo: n{i} part1 part2"
    invalid_calls = [c for c in upstream.fake.calls if c["key"] == "invalid-gamma"]
    assert len(invalid_calls) <= 1, "an invalid key is retired after its first failure"


def test_sse_framing_passes_through(stack: Stack) -> None:
    url = f"{stack.gateway_url}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    with httpx.stream(
        "POST", url, headers={"x-goog-api-key": TOKEN}, json={"contents": [{"parts": [{"text": "sse"}]}]}
    ) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        raw = b"".join(reply.iter_raw())
    frames = raw.split(b"\r\n\r\n")
    assert frames[-1] == b"" and len(frames) == 4
    assert all(f.startswith(b"data: {") for f in frames[:-1])


def test_json_array_stream_without_sse(stack: Stack) -> None:
    url = f"{stack.gateway_url}/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    reply = httpx.post(f"{url}?key={TOKEN}", json={"contents": [{"parts": [{"text": "arr"}]}]})
    assert reply.status_code == 200
    items = reply.json()
    assert isinstance(items, list) and len(items) == 3
    assert items[-1]["candidates"][0]["finishReason"] == "STOP"


def test_percent_encoded_colon_and_unknown_model(stack: Stack) -> None:
    url = f"{stack.gateway_url}/v1beta/models/no-such-model%3AgenerateContent"
    reply = httpx.post(
        url, headers={"x-goog-api-key": TOKEN}, json={"contents": [{"parts": [{"text": "x"}]}]}
    )
    assert reply.status_code == 404
    assert reply.json()["error"]["status"] == "NOT_FOUND"
