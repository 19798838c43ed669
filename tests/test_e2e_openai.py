"""The OpenAI-compatible API end to end: four service processes, real PostgreSQL and Redis, the
official ``openai`` SDK, and the fake Gemini upstream. What reached the upstream proves the
translation; what the SDK parsed proves the answers."""

import base64
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import hypothesis
import openai
import orjson
import pytest
import schemathesis
from openai.types.chat import (
    ChatCompletionContentPartImageParam,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCallParam,
)
from schemathesis.core.result import Ok
from schemathesis.generation.modes import GenerationMode

from gempool.common.devstack import Stack
from gempool.fakegemini.answers import PNG_1PX
from gempool.fakegemini.server import Running
from gempool.gateway.openai import toolids

from .conftest import StackFactory

TOKEN = "team-token-1"
KEYS = ["ok-alpha", "ok-beta"]
PAID = "ok-paid"

pytestmark = pytest.mark.e2e

WEATHER: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


@pytest.fixture(scope="module")
def stack(make_stack: StackFactory, upstream: Running, pg_url: str, redis_prefix: str) -> Stack:
    env = {
        "API_KEYS": '["' + '","'.join(KEYS) + '"]',
        "PAID_KEY": PAID,
        "ALLOWED_TOKENS": f'["{TOKEN}"]',
        "AUTH_TOKEN": "admin-secret-token",
        "BASE_URL": f"{upstream.url}/v1beta",
        "DATABASE_URL": pg_url,
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "REDIS_PREFIX": redis_prefix,
        "IMAGE_URL_PRIVATE_ALLOWED": "true",  # the test's image server listens on 127.0.0.1
    }
    return make_stack(env, logs="openai", expect_keys=len(KEYS) + 1)


@pytest.fixture(scope="module")
def image_server() -> Iterator[str]:
    """An http server of the test's own, serving one PNG (for image_url by http URL)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("content-type", "image/png")
            self.send_header("content-length", str(len(PNG_1PX)))
            self.end_headers()
            self.wfile.write(PNG_1PX)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cat.png"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def fresh_upstream(upstream: Running) -> None:
    upstream.fake.calls.clear()
    upstream.fake.rules.chunks = 3


@pytest.fixture
def client(stack: Stack) -> Iterator[openai.OpenAI]:
    # Closed after each test: a client left to the garbage collector leaves its sockets open.
    with openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key=TOKEN, max_retries=0) as made:
        yield made


def sent(upstream: Running, method: str = "") -> dict[str, Any]:
    """The body of the last generate call the upstream received."""
    calls = [c for c in upstream.fake.calls if not method or c["method"] == method]
    assert calls, f"no {method or 'upstream'} call"
    return dict(calls[-1]["body"])


def test_chat_with_system_and_multi_turn(client: openai.OpenAI, upstream: Running) -> None:
    reply = client.chat.completions.create(
        model="gemini-2.5-flash",
        messages=[
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "second question"},
        ],
        temperature=0.3,
    )
    assert reply.object == "chat.completion" and reply.model == "gemini-2.5-flash"
    assert reply.choices[0].message.content == "Echo: second question part1 part2"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.total_tokens == reply.usage.prompt_tokens + 5
    body = sent(upstream, "generateContent")
    assert body["systemInstruction"] == {"parts": [{"text": "Be terse."}]}
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["generationConfig"] == {"temperature": 0.3}
    assert upstream.fake.calls[-1]["key"] in KEYS


def test_chat_stream_with_usage(client: openai.OpenAI, upstream: Running) -> None:
    upstream.fake.rules.chunks = 4
    chunks = list(
        client.chat.completions.create(
            model="gemini-2.5-flash",
            messages=[{"role": "user", "content": "stream me"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: stream me part1 part2 part3"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert (
        chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    )
    assert upstream.fake.calls[-1]["method"] == "streamGenerateContent"
    assert upstream.fake.calls[-1]["query"] == {"alt": "sse"}


def test_images_by_data_url_and_http_url(client: openai.OpenAI, upstream: Running, image_server: str) -> None:
    png = base64.b64encode(PNG_1PX).decode()
    client.chat.completions.create(
        model="gemini-2.5-flash",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "two images"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
                    {"type": "image_url", "image_url": {"url": image_server}},
                ],
            }
        ],
    )
    parts = sent(upstream)["contents"][0]["parts"]
    assert parts[1:] == [{"inlineData": {"mimeType": "image/png", "data": png}}] * 2


def test_unreachable_image_url_is_a_400(client: openai.OpenAI, upstream: Running) -> None:
    image: ChatCompletionContentPartImageParam = {
        "type": "image_url",
        "image_url": {"url": "http://127.0.0.1:9/nothing.png"},
    }
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="gemini-2.5-flash", messages=[{"role": "user", "content": [image]}]
        )
    assert "nothing.png" in caught.value.message
    assert not upstream.fake.calls


def tool_turn(
    client: openai.OpenAI, stream: bool, messages: list[Any]
) -> tuple[str | None, list[dict[str, Any]]]:
    """One assistant turn as (content, tool calls), streamed or not."""
    kwargs: dict[str, Any] = {"model": "gemini-3-pro-preview", "messages": messages, "tools": [WEATHER]}
    if not stream:
        reply = client.chat.completions.create(**kwargs)
        message = reply.choices[0].message
        calls = [
            {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
            for c in message.tool_calls or ()
        ]
        assert reply.choices[0].finish_reason == ("tool_calls" if calls else "stop")
        return message.content, calls
    content, calls, finish = "", [], None
    for chunk in client.chat.completions.create(**kwargs, stream=True):
        delta = chunk.choices[0].delta if chunk.choices else None
        finish = (chunk.choices[0].finish_reason if chunk.choices else None) or finish
        content += (delta.content or "") if delta else ""
        for call in (delta.tool_calls or ()) if delta else ():
            if call.id:
                calls.append({"id": call.id, "name": call.function.name, "arguments": ""})
            calls[call.index]["arguments"] += call.function.arguments or ""
    assert finish == ("tool_calls" if calls else "stop")
    return content or None, calls


@pytest.mark.parametrize("stream", [False, True])
def test_tool_round_trip_keeps_the_thought_signature(
    client: openai.OpenAI, upstream: Running, stream: bool
) -> None:
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    content, calls = tool_turn(client, stream, messages)
    assert content is None and [c["name"] for c in calls] == ["get_weather"]
    assert orjson.loads(calls[0]["arguments"]) == {"city": "sample"}
    assert toolids.signature(calls[0]["id"]) in upstream.fake.signatures
    # What a client keeps of the turn: id, name and arguments (no extra fields).
    messages.append(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": c["arguments"]},
                }
                for c in calls
            ],
        }
    )
    messages.append({"role": "tool", "tool_call_id": calls[0]["id"], "content": '{"temp_c": 21}'})
    content, calls = tool_turn(client, stream, messages)
    assert content == 'Result of get_weather: {"temp_c":21}' and not calls
    model_turn = sent(upstream)["contents"][1]
    assert model_turn["parts"][0]["thoughtSignature"] in upstream.fake.signatures


def test_legacy_function_round_trip(client: openai.OpenAI, upstream: Running) -> None:
    """functions / function_call (older LangChain, some agents): call -> function result -> answer."""
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    reply = client.chat.completions.create(
        model="gemini-3-pro-preview", messages=messages, functions=[WEATHER["function"]], function_call="auto"
    )
    choice = reply.choices[0]
    call = choice.message.function_call
    assert choice.finish_reason == "function_call" and choice.message.tool_calls is None
    assert (
        call is not None and call.name == "get_weather" and orjson.loads(call.arguments) == {"city": "sample"}
    )
    body = sent(upstream)
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "The weather in a city.",
                    "parametersJsonSchema": WEATHER["function"]["parameters"],
                }
            ]
        }
    ]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    # The client keeps the message as the SDK parsed it (the signature rides in extra_content).
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "function", "name": "get_weather", "content": '{"temp_c": 21}'})
    reply = client.chat.completions.create(
        model="gemini-3-pro-preview", messages=messages, functions=[WEATHER["function"]]
    )
    assert reply.choices[0].finish_reason == "stop" and reply.choices[0].message.function_call is None
    assert reply.choices[0].message.content == 'Result of get_weather: {"temp_c":21}'
    model_turn, result = sent(upstream)["contents"][1:]
    assert model_turn["role"] == "model" and model_turn["parts"][0]["functionCall"] == {
        "name": "get_weather",
        "args": {"city": "sample"},
    }
    assert model_turn["parts"][0]["thoughtSignature"] in upstream.fake.signatures
    assert result == {
        "role": "user",
        "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp_c": 21}}}],
    }


def test_streamed_legacy_function_call(client: openai.OpenAI, upstream: Running) -> None:
    name, arguments, finish = "", "", None
    for chunk in client.chat.completions.create(
        model="gemini-2.5-flash",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        functions=[WEATHER["function"]],
        function_call={"name": "get_weather"},
        stream=True,
    ):
        delta = chunk.choices[0].delta
        assert delta.tool_calls is None
        finish = chunk.choices[0].finish_reason or finish
        if delta.function_call is not None:
            assert not (name and delta.function_call.name), "the name comes once, first"
            name += delta.function_call.name or ""
            arguments += delta.function_call.arguments or ""
    assert (name, orjson.loads(arguments), finish) == ("get_weather", {"city": "sample"}, "function_call")
    assert sent(upstream, "streamGenerateContent")["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
    }


def test_tools_and_functions_together_are_a_400(client: openai.OpenAI, upstream: Running) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="gemini-2.5-flash",
            messages=[{"role": "user", "content": "x"}],
            tools=[WEATHER],
            functions=[WEATHER["function"]],
        )
    assert caught.value.param == "functions" and not upstream.fake.calls


def test_logprobs(client: openai.OpenAI, upstream: Running) -> None:
    reply = client.chat.completions.create(
        model="gemini-2.5-flash",
        messages=[{"role": "user", "content": "Olé"}],
        logprobs=True,
        top_logprobs=2,
    )
    choice = reply.choices[0]
    assert choice.message.content == "Echo: Olé part1 part2"
    assert choice.logprobs is not None and choice.logprobs.content is not None
    tokens = choice.logprobs.content
    assert "".join(t.token for t in tokens) == choice.message.content
    assert [t.token for t in tokens[0].top_logprobs] == ["Echo:", " alt1"]
    assert tokens[0].top_logprobs[0].logprob == tokens[0].logprob == -0.125
    assert tokens[1].token == " Olé" and bytes(tokens[1].bytes or []).decode() == " Olé"
    assert sent(upstream)["generationConfig"] == {"responseLogprobs": True, "logprobs": 2}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="gemini-2.5-flash", messages=[{"role": "user", "content": "x"}], top_logprobs=2
        )
    assert caught.value.param == "top_logprobs"


def test_logprobs_stream(client: openai.OpenAI, upstream: Running) -> None:
    chunks = list(
        client.chat.completions.create(
            model="gemini-2.5-flash",
            messages=[{"role": "user", "content": "stream me"}],
            logprobs=True,
            top_logprobs=1,
            stream=True,
        )
    )
    texts = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    per_chunk = [
        [t.token for t in c.choices[0].logprobs.content or ()]
        for c in chunks
        if c.choices and c.choices[0].logprobs is not None
    ]
    assert texts == ["Echo: stream me", " part1", " part2"]
    assert per_chunk == [["Echo:", " stream", " me"], [" part1"], [" part2"]]  # each chunk its own tokens
    first = next(c.choices[0].logprobs for c in chunks if c.choices and c.choices[0].logprobs)
    assert first is not None and first.content is not None
    assert [t.token for t in first.content[0].top_logprobs] == ["Echo:"]
    assert sent(upstream, "streamGenerateContent")["generationConfig"] == {
        "responseLogprobs": True,
        "logprobs": 1,
    }


def test_upstream_400_is_an_openai_400_with_googles_message(client: openai.OpenAI) -> None:
    forged: ChatCompletionMessageFunctionToolCallParam = {
        "id": "call_1.ts.Zm9yZ2Vk",
        "type": "function",
        "function": {"name": "get_weather", "arguments": "{}"},
    }
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="gemini-3-pro-preview",
            messages=[
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "tool_calls": [forged]},
                {"role": "tool", "tool_call_id": "call_1.ts.Zm9yZ2Vk", "content": "sunny"},
            ],
            tools=[WEATHER],
        )
    assert caught.value.status_code == 400 and "thought_signature" in caught.value.message


def test_json_schema(client: openai.OpenAI, upstream: Running) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    reply = client.chat.completions.create(
        model="gemini-2.5-flash",
        messages=[{"role": "user", "content": "a person"}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "person", "schema": schema, "strict": True},
        },
    )
    assert orjson.loads(reply.choices[0].message.content or "") == {"name": "sample", "age": 1}
    config = sent(upstream)["generationConfig"]
    assert config == {"responseMimeType": "application/json", "responseJsonSchema": schema}


@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_content(client: openai.OpenAI, upstream: Running, stream: bool) -> None:
    kwargs: dict[str, Any] = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "think"}]}
    if stream:
        chunks = list(client.chat.completions.create(**kwargs, reasoning_effort="low", stream=True))
        thoughts = "".join(
            getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices
        )
        answer = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        reply = client.chat.completions.create(**kwargs, reasoning_effort="low")
        thoughts = getattr(reply.choices[0].message, "reasoning_content", "")
        answer = reply.choices[0].message.content or ""
        assert reply.usage is not None and reply.usage.completion_tokens_details is not None
        assert reply.usage.completion_tokens_details.reasoning_tokens == 5
    assert thoughts == "Thinking about: think" and answer.startswith("Echo: think")
    assert sent(upstream)["generationConfig"] == {
        "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True}
    }


def test_embeddings_float_and_base64(client: openai.OpenAI, upstream: Running) -> None:
    floats = client.embeddings.create(model="gemini-embedding-001", input=["a", "b"], encoding_format="float")
    decoded = client.embeddings.create(
        model="gemini-embedding-001", input=["a", "b"]
    )  # the SDK asks for base64
    assert [d.index for d in floats.data] == [0, 1] and len(floats.data[0].embedding) == 8
    for exact, approx in zip(floats.data, decoded.data, strict=True):
        assert approx.embedding == pytest.approx(exact.embedding, rel=1e-6)
    assert upstream.fake.calls[-1]["query"] == {} and sent(upstream, "batchEmbedContents")["requests"][0] == {
        "model": "models/gemini-embedding-001",
        "content": {"parts": [{"text": "a"}]},
    }
    short = client.embeddings.create(
        model="gemini-embedding-001", input="a", dimensions=3, encoding_format="float"
    )
    assert len(short.data[0].embedding) == 3
    assert sent(upstream, "batchEmbedContents")["requests"][0]["outputDimensionality"] == 3


def test_images_generations(client: openai.OpenAI, upstream: Running) -> None:
    inline = client.images.generate(prompt="a cat", n=2, size="1792x1024", response_format="b64_json")
    assert [base64.b64decode(d.b64_json or "") for d in inline.data or []] == [PNG_1PX, PNG_1PX]
    assert (
        upstream.fake.calls[-1]["key"] == PAID
        and upstream.fake.calls[-1]["model"] == "imagen-3.0-generate-002"
    )
    assert sent(upstream, "predict")["parameters"] == {"sampleCount": 2, "aspectRatio": "16:9"}
    hosted = client.images.generate(prompt="a cat")
    url = (hosted.data or [])[0].url or ""
    assert url.startswith("http") and httpx.get(url).content == PNG_1PX


def test_image_chat_model(client: openai.OpenAI, upstream: Running) -> None:
    reply = client.chat.completions.create(
        model="imagen-3.0-generate-002-chat", messages=[{"role": "user", "content": "draw a cat"}]
    )
    content = reply.choices[0].message.content or ""
    assert content.startswith("![image](http") and sent(upstream, "predict")["instances"] == [
        {"prompt": "draw a cat"}
    ]
    url = content.removeprefix("![image](").removesuffix(")")
    assert httpx.get(url).content == PNG_1PX


@pytest.mark.parametrize(("fmt", "magic"), [("wav", b"RIFF"), ("mp3", b"ID3"), ("pcm", b"\x00\x00")])
def test_speech(client: openai.OpenAI, upstream: Running, fmt: str, magic: bytes) -> None:
    audio = client.audio.speech.create(
        model="gemini-2.5-flash-preview-tts",
        voice="kore",
        input="Hello there",
        response_format=fmt,  # type: ignore[arg-type]
    )
    assert audio.content.startswith(magic)
    if fmt == "pcm":
        assert len(audio.content) == 48000  # one second of 16-bit audio at 24 kHz, as the upstream sent
    voice = sent(upstream)["generationConfig"]["speechConfig"]["voiceConfig"]["prebuiltVoiceConfig"]
    assert voice == {"voiceName": "Kore"}


def test_models_in_both_dialects(client: openai.OpenAI, stack: Stack) -> None:
    ids = [m.id for m in client.models.list()]
    assert "gemini-2.5-flash" in ids and "imagen-3.0-generate-002-chat" in ids
    assert client.models.retrieve("gemini-2.5-pro").id == "gemini-2.5-pro"
    native = httpx.get(f"{stack.gateway_url}/v1/models", headers={"x-goog-api-key": TOKEN}).json()
    assert "models/gemini-2.5-flash" in [m["name"] for m in native["models"]]
    hf = openai.OpenAI(base_url=f"{stack.gateway_url}/hf/v1", api_key=TOKEN)
    assert [m.id for m in hf.models.list()] == ids


def test_wrong_token_is_an_openai_401(stack: Stack, upstream: Running) -> None:
    bad = openai.OpenAI(base_url=f"{stack.gateway_url}/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="gemini-2.5-flash", messages=[{"role": "user", "content": "x"}])
    assert not upstream.fake.calls


def test_passthrough_to_googles_openai_endpoint(stack: Stack, upstream: Running) -> None:
    google = openai.OpenAI(base_url=f"{stack.gateway_url}/openai/v1", api_key=TOKEN, max_retries=0)
    reply = google.chat.completions.create(
        model="gemini-2.5-flash", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content == "Echo: hi"
    chunks = list(
        google.chat.completions.create(
            model="gemini-2.5-flash", messages=[{"role": "user", "content": "go"}], stream=True
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Echo: go part1 part2"
    assert len(google.embeddings.create(model="gemini-embedding-001", input="a").data[0].embedding) == 8
    assert "models/gemini-2.5-flash" in [m.id for m in google.models.list()]
    paths = {c["path"] for c in upstream.fake.calls}
    assert paths == {"/v1beta/openai/chat/completions", "/v1beta/openai/embeddings", "/v1beta/openai/models"}
    assert {c["key"] for c in upstream.fake.calls} <= set(KEYS)


@pytest.mark.parametrize("stream", [False, True])
def test_generated_images_come_back_as_hosted_links(
    client: openai.OpenAI, upstream: Running, stream: bool
) -> None:
    kwargs: dict[str, Any] = {
        "model": "gemini-2.0-flash-exp-image",
        "messages": [{"role": "user", "content": "a cat"}],
    }
    if stream:
        chunks = client.chat.completions.create(**kwargs, stream=True)
        content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        content = client.chat.completions.create(**kwargs).choices[0].message.content or ""
    assert sent(upstream)["generationConfig"]["responseModalities"] == ["TEXT", "IMAGE"]
    link = content[content.index("![image](") + 9 :].split(")")[0]
    assert link.startswith("http") and httpx.get(link).content == PNG_1PX


def test_stream_chunks_arrive_as_the_upstream_sends_them(client: openai.OpenAI, upstream: Running) -> None:
    upstream.fake.rules.chunk_delay = 0.4
    try:
        arrivals = []
        started = time.monotonic()
        for chunk in client.chat.completions.create(
            model="gemini-2.5-flash", messages=[{"role": "user", "content": "slow"}], stream=True
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                arrivals.append(time.monotonic() - started)
    finally:
        upstream.fake.rules.chunk_delay = 0.0
    assert len(arrivals) == 3 and arrivals[0] < 0.3 and arrivals[2] - arrivals[0] > 0.6


FUZZED = r"^/v1/(chat/completions|embeddings|images/generations|audio/speech|models)"


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_schemathesis_finds_no_server_error(stack: Stack, mode: GenerationMode) -> None:
    """Bodies made from the gateway's own OpenAPI, valid and not: never a 5xx, never a hang."""
    schema = schemathesis.openapi.from_url(f"{stack.gateway_url}/openapi.json").include(path_regex=FUZZED)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operations.append(result.ok())
    assert len(operations) == 6
    failures: list[str] = []
    for operation in operations:

        @hypothesis.settings(
            max_examples=10,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(hypothesis.HealthCheck),
            phases=[hypothesis.Phase.generate],
        )
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        def call(case: Any) -> None:
            response = case.call(headers={"authorization": f"Bearer {TOKEN}"}, timeout=30)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.path} -> {response.status_code}: {response.text[:300]}")

        try:
            call()
        except hypothesis.errors.Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing to break in a request without input
    assert not failures, "\n".join(failures)


def test_an_image_host_that_fails_still_gives_a_working_link(client: openai.OpenAI, stack: Stack) -> None:
    """The configured host is down (nothing listens): the image is kept locally and the error log
    says why; the client never sees the failure."""
    admin = httpx.Client(
        base_url=f"{stack.gateway_url}/api/admin", headers={"authorization": "Bearer admin-secret-token"}
    )
    down = {
        "UPLOAD_PROVIDER": "picgo",
        "PICGO_API_KEY": "k",
        "PICGO_API_URL": "http://127.0.0.1:9/api/1/upload",
    }
    assert admin.patch("/settings", json={"values": down | {"UPLOAD_RETRIES": 0}}).status_code == 200
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            url = (client.images.generate(prompt="a cat").data or [])[0].url or ""
            assert url.startswith("http") and httpx.get(url).content == PNG_1PX
            logged = admin.get("/logs/errors").json()
            if any(e.get("error_code") == "IMAGE_UPLOAD_FAILED:picgo" for e in logged.get("entries", [])):
                break
            time.sleep(0.3)
        else:
            raise AssertionError("the failed upload never reached the error log")
    finally:
        admin.patch("/settings", json={"values": {"UPLOAD_PROVIDER": "local"}})
        admin.close()
