"""The OpenAI routes in process: the app, a real fake KeyPool over gRPC and the fake upstream."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from gempool.common.live import LiveSettings
from gempool.fakegemini.behaviour import Behaviour
from gempool.fakegemini.server import Running
from gempool.gateway.app import create_app
from gempool.gateway.openai.passthrough import valid_path
from gempool.gateway.runtime import Live
from gempool.gateway.settings import GatewaySettings

from ..conftest import FakeKeyPool

BEARER = {"authorization": "Bearer t"}
HELLO = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture
async def gateway(fake_pool: tuple[FakeKeyPool, int], upstream: Running) -> AsyncIterator[httpx.AsyncClient]:
    upstream.fake.calls.clear()
    upstream.fake.rules.keys.clear()
    pool, port = fake_pool
    pool.keys = ["ok-1", "ok-2"]
    settings = GatewaySettings(
        KEYPOOL_ADDR=f"127.0.0.1:{port}", CONFIG_ADDR="127.0.0.1:1", IMAGEHOST_ADDR="127.0.0.1:1"
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        live = LiveSettings(BASE_URL=f"{upstream.url}/v1beta", ALLOWED_TOKENS=["t"], MAX_RETRIES=3)
        app.state.rt.live = Live.build(live)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            yield client


def openai_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return dict(error)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (orjson.dumps({"model": "m", "messages": []}), "messages"),
        (orjson.dumps({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}), "messages.0.role"),
        (orjson.dumps(HELLO | {"temperature": "hot"}), "temperature"),
    ],
)
async def test_bad_bodies_get_openais_400(gateway: httpx.AsyncClient, body: bytes, param: str | None) -> None:
    response = await gateway.post("/v1/chat/completions", content=body, headers=BEARER)
    error = openai_error(response, 400)
    assert error["type"] == "invalid_request_error" and error["param"] == param


async def test_missing_token_gets_openais_401(gateway: httpx.AsyncClient, upstream: Running) -> None:
    response = await gateway.post("/hf/v1/chat/completions", json=HELLO)
    assert openai_error(response, 401)["type"] == "authentication_error"
    assert not upstream.fake.calls


async def test_upstream_400_keeps_googles_message(gateway: httpx.AsyncClient) -> None:
    call = {"id": "call_x", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    body = {
        "model": "gemini-3-pro-preview",
        "messages": [
            {"role": "user", "content": "x"},
            {
                "role": "assistant",
                "tool_calls": [call | {"extra_content": {"google": {"thought_signature": "forged"}}}],
            },
            {"role": "tool", "tool_call_id": "call_x", "content": "1"},
        ],
    }
    error = openai_error(await gateway.post("/v1/chat/completions", json=body, headers=BEARER), 400)
    assert error["message"].startswith("Function call is missing a thought_signature")
    assert error["code"] == "invalid_argument"


async def test_unknown_model_is_openais_404(gateway: httpx.AsyncClient, upstream: Running) -> None:
    response = await gateway.post("/v1/chat/completions", json=HELLO | {"model": "gemini-9"}, headers=BEARER)
    assert "models/gemini-9 is not found" in openai_error(response, 404)["message"]
    assert len(upstream.fake.calls) == 1, "a client error is not retried"


async def test_stream_retries_a_bad_key_before_the_first_byte(
    gateway: httpx.AsyncClient, fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    fake_pool[0].keys = ["invalid-1", "overload-2", "ok-3"]
    response = await gateway.post("/v1/chat/completions", json=HELLO | {"stream": True}, headers=BEARER)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    frames = response.content.split(b"\n\n")
    assert frames[-1] == b"" and frames[-2] == b"data: [DONE]"
    events = [orjson.loads(f[6:]) for f in frames[:-2]]
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events)
    assert text == "Echo: hello part1 part2"
    assert [c["key"] for c in upstream.fake.calls] == ["invalid-1", "overload-2", "ok-3"]
    assert upstream.fake.calls[-1]["query"] == {"alt": "sse"}


@pytest.mark.parametrize("stream", [False, True])
async def test_blocked_on_every_key_is_a_content_filter_answer(
    gateway: httpx.AsyncClient, fake_pool: tuple[FakeKeyPool, int], stream: bool
) -> None:
    fake_pool[0].keys = ["blocked-1", "blocked-2"]
    response = await gateway.post("/v1/chat/completions", json=HELLO | {"stream": stream}, headers=BEARER)
    assert response.status_code == 200
    if stream:
        assert b'"finish_reason":"content_filter"' in response.content
        assert response.content.endswith(b"data: [DONE]\n\n")
    else:
        assert response.json()["choices"][0]["finish_reason"] == "content_filter"


async def test_models_answer_in_the_dialect_of_the_token(gateway: httpx.AsyncClient) -> None:
    openai = (await gateway.get("/v1/models", headers=BEARER)).json()
    gemini = (await gateway.get("/v1/models", headers={"x-goog-api-key": "t"})).json()
    by_key = (await gateway.get("/v1/models?key=t")).json()
    assert openai["object"] == "list"
    assert {"id": "gemini-2.5-flash", "object": "model", "created": 0, "owned_by": "google"} in openai["data"]
    assert "imagen-3.0-generate-002-chat" in [m["id"] for m in openai["data"]]
    assert "models/gemini-2.5-flash" in [m["name"] for m in gemini["models"]]
    assert by_key == gemini
    one = await gateway.get("/v1/models/gemini-2.5-flash", headers=BEARER)
    assert one.json() == {"id": "gemini-2.5-flash", "object": "model", "created": 0, "owned_by": "google"}
    native_one = await gateway.get("/v1/models/gemini-2.5-flash", headers={"x-goog-api-key": "t"})
    assert native_one.json()["name"] == "models/gemini-2.5-flash"
    assert (
        openai_error(await gateway.get("/hf/v1/models/nope", headers=BEARER), 404)["code"]
        == "model_not_found"
    )


async def test_native_generate_content_under_v1_still_works(gateway: httpx.AsyncClient) -> None:
    body = {"contents": [{"parts": [{"text": "hi"}]}]}
    response = await gateway.post("/v1/models/gemini-2.5-flash:generateContent", json=body, headers=BEARER)
    assert response.status_code == 200 and "candidates" in response.json()


async def test_openapi_documents_the_openai_routes(gateway: httpx.AsyncClient) -> None:
    spec = (await gateway.get("/openapi.json")).json()
    chat = spec["paths"]["/v1/chat/completions"]["post"]
    schema = chat["requestBody"]["content"]["application/json"]["schema"]
    assert {"model", "messages"} <= set(schema["required"])
    assert "$ref" not in orjson.dumps(schema).decode()
    assert "/hf/v1/embeddings" in spec["paths"]


async def test_passthrough_relays_to_googles_openai_endpoint_with_pool_keys(
    gateway: httpx.AsyncClient, fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    fake_pool[0].keys = ["invalid-1", "ok-2"]
    response = await gateway.post("/openai/v1/chat/completions", json=HELLO | {"seed": 3}, headers=BEARER)
    assert (
        response.status_code == 200 and response.json()["choices"][0]["message"]["content"] == "Echo: hello"
    )
    assert [(c["key"], c["path"]) for c in upstream.fake.calls] == [
        ("invalid-1", "/v1beta/openai/chat/completions"),
        ("ok-2", "/v1beta/openai/chat/completions"),
    ]
    assert upstream.fake.calls[-1]["body"] == HELLO | {"seed": 3}


async def test_passthrough_errors_get_openais_shape(gateway: httpx.AsyncClient, upstream: Running) -> None:
    upstream.fake.rules.keys.update({"ok-1": Behaviour("quota", 7), "ok-2": Behaviour("quota", 7)})
    response = await gateway.post("/openai/v1/chat/completions", json=HELLO, headers=BEARER)
    error = openai_error(response, 429)
    assert error["code"] == "resource_exhausted" and "exceeded your current quota" in error["message"]
    assert response.headers["retry-after"] == "7"


@pytest.mark.parametrize(
    ("path", "ok"),
    [("chat/completions", True), ("models/gemini-2.5-flash", True), ("../files", False), ("a/./b", False)],
)
def test_passthrough_paths_stay_under_googles_openai_root(path: str, ok: bool) -> None:
    assert valid_path(path) is ok


async def test_passthrough_refuses_a_climbing_path(gateway: httpx.AsyncClient, upstream: Running) -> None:
    response = await gateway.get("/openai/v1/%2E%2E/%2E%2E/files", headers=BEARER)
    assert openai_error(response, 404)["type"] == "not_found_error"
    assert not upstream.fake.calls


async def test_model_names_that_would_bend_the_upstream_url_are_refused(gateway: httpx.AsyncClient) -> None:
    body = HELLO | {"model": "gemini-2.5-flash:countTokens?x=1#"}
    assert (
        openai_error(await gateway.post("/v1/chat/completions", json=body, headers=BEARER), 400)["param"]
        == "model"
    )


async def test_images_are_inline_when_imagehost_cannot_take_them(gateway: httpx.AsyncClient) -> None:
    body = HELLO | {"model": "gemini-2.0-flash-exp-image"}  # imagehost at 127.0.0.1:1: nobody there
    response = await gateway.post("/v1/chat/completions", json=body, headers=BEARER)
    assert response.status_code == 200
    assert "![image](data:image/png;base64," in response.json()["choices"][0]["message"]["content"]


async def test_a_stream_cut_after_the_first_byte_ends_with_an_error_event(
    gateway: httpx.AsyncClient, fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    fake_pool[0].keys = ["cut-1"]
    upstream.fake.rules.chunks = 4
    try:
        response = await gateway.post("/v1/chat/completions", json=HELLO | {"stream": True}, headers=BEARER)
    finally:
        upstream.fake.rules.chunks = 3
    frames = response.content.split(b"\n\n")
    assert b'"content":"Echo: hello"' in frames[1]
    assert orjson.loads(frames[-3][6:])["error"]["message"].startswith("The upstream stream ended")
    assert frames[-2] == b"data: [DONE]"


async def test_a_cut_chat_stream_is_not_finished_by_another_key_and_is_counted(
    gateway: httpx.AsyncClient, fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    fake_pool[0].keys = ["cut-1", "ok-2"]
    response = await gateway.post("/v1/chat/completions", json=HELLO | {"stream": True}, headers=BEARER)
    *events, last = frames(response)
    *chunks, error = [orjson.loads(f[6:]) for f in events]
    said = [c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]]
    assert "".join(said) == "Echo: hello part1" and last == b"data: [DONE]"
    assert error["error"]["code"] == "stream_cut"
    assert [c["key"] for c in upstream.fake.calls] == ["cut-1"]  # the first byte went out: no second key
    registry = gateway._transport.app.state.rt.metrics.registry  # type: ignore[attr-defined]
    assert registry.get_sample_value("gempool_gateway_streams_cut_total", {"reason": "upstream"}) == 1


def frames(response: httpx.Response) -> list[bytes]:
    return [f for f in response.content.split(b"\n\n") if f]


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        (
            {
                "tools": [{"type": "function", "function": {"name": "f"}}],
                "functions": [{"name": "f"}],
            },
            "functions",
        ),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
        ({"seed": 2**70}, None),  # no upstream field takes more than 64 bits: a 400, not a 500
    ],
)
async def test_refused_legacy_and_logprobs_fields_get_openais_400(
    gateway: httpx.AsyncClient, upstream: Running, extra: dict[str, Any], param: str | None
) -> None:
    response = await gateway.post("/v1/chat/completions", json=HELLO | extra, headers=BEARER)
    error = openai_error(response, 400)
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert not upstream.fake.calls
