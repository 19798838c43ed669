"""The whole Gemini-native API end to end: one stack of four service processes, the google-genai SDK,
and the fake upstream, which records the exact request each method sent upstream."""

import base64
import io
import time
from typing import Any

import httpx
import orjson
import pytest
from google import genai
from google.genai import errors, types

from gempool.api.config.v1 import config_pb2, config_pb2_grpc
from gempool.common import internalauth
from gempool.common.devstack import Stack
from gempool.fakegemini.behaviour import Behaviour
from gempool.fakegemini.server import Running

from .conftest import StackFactory

TOKEN = "team-token-full"
OTHER_TOKEN = "team-token-other"
KEYS = ["ok-free-1", "ok-free-2"]
PAID = "ok-paid-1"
VERTEX = "ok-vertex-1"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(make_stack: StackFactory, upstream: Running, pg_url: str, redis_prefix: str) -> Stack:
    env = {
        "API_KEYS": ",".join(KEYS),
        "PAID_KEY": PAID,
        "VERTEX_API_KEYS": VERTEX,
        "VERTEX_EXPRESS_BASE_URL": f"{upstream.url}/v1beta1/publishers/google",
        "ALLOWED_TOKENS": f"{TOKEN},{OTHER_TOKEN}",
        "AUTH_TOKEN": "admin-secret-token",
        "BASE_URL": f"{upstream.url}/v1beta",
        "DATABASE_URL": pg_url,
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "REDIS_PREFIX": redis_prefix,
        "THINKING_MODELS": '["gemini-2.5-flash","gemini-2.5-pro"]',
        "FILTERED_MODELS": '["gemini-2.0-flash"]',
        "CUSTOM_HEADERS": '{"x-gempool-team": "platform"}',
        "TTS_VOICE_NAME": "Kore",
    }
    return make_stack(env, logs="full", expect_keys=len(KEYS) + 2)


@pytest.fixture(autouse=True)
def fresh_upstream(upstream: Running) -> None:
    upstream.fake.calls.clear()
    upstream.fake.rules.chunks = 3
    upstream.fake.rules.chunk_delay = 0.0
    upstream.fake.rules.models.clear()


def client(stack: Stack, api_version: str | None = None, token: str = TOKEN) -> genai.Client:
    options = types.HttpOptions(base_url=stack.gateway_url, api_version=api_version)
    return genai.Client(api_key=token, http_options=options)


@pytest.fixture(scope="module")
def gemini(stack: Stack) -> genai.Client:
    """One SDK client for the module (a client closes its connections when collected)."""
    return client(stack)


def calls(upstream: Running, method: str) -> list[dict[str, Any]]:
    return [c for c in upstream.fake.calls if c["method"] == method]


def set_live(stack: Stack, **values: Any) -> None:
    """Change live settings through the config service; return once the gateway applied them."""
    with internalauth.sync_channel(f"127.0.0.1:{stack.ports.config}", stack.internal_token) as channel:
        stub = config_pb2_grpc.ConfigServiceStub(channel)
        wire = {k: orjson.dumps(v).decode() for k, v in values.items()}
        reply = stub.UpdateSettings(config_pb2.UpdateSettingsRequest(values=wire, actor="test"), timeout=10)
    assert not reply.errors, reply.errors
    deadline = time.monotonic() + 10
    while httpx.get(f"{stack.gateway_url}/readyz").json().get("settings_revision") < reply.snapshot.revision:
        assert time.monotonic() < deadline, "the gateway did not apply the settings"
        time.sleep(0.05)


def test_chat_multi_turn_sends_the_whole_history(gemini: genai.Client, upstream: Running) -> None:
    chat = gemini.chats.create(model="gemini-2.5-flash")
    assert chat.send_message("first question").text == "Echo: first question part1 part2"
    assert chat.send_message("second question").text == "Echo: second question part1 part2"
    served = calls(upstream, "generateContent")[-1]
    assert served["headers"]["x-gempool-team"] == "platform", "CUSTOM_HEADERS go upstream"
    sent = served["body"]
    assert [c["role"] for c in sent["contents"]] == ["user", "model", "user"]
    assert sent["contents"][1]["parts"][0]["text"] == "Echo: first question part1 part2"


def test_count_tokens(gemini: genai.Client, upstream: Running) -> None:
    reply = gemini.models.count_tokens(model="gemini-2.5-flash", contents="one two three four")
    assert reply.total_tokens == 4
    assert calls(upstream, "countTokens")[0]["path"] == "/v1/models/gemini-2.5-flash:countTokens"


def test_embed_batch_through_the_sdk(gemini: genai.Client, upstream: Running) -> None:
    reply = gemini.models.embed_content(model="gemini-embedding-001", contents=["alpha", "beta"])
    assert reply.embeddings is not None and len(reply.embeddings) == 2
    assert reply.embeddings[0].values != reply.embeddings[1].values
    sent = calls(upstream, "batchEmbedContents")[0]["body"]
    assert [r["content"]["parts"][0]["text"] for r in sent["requests"]] == ["alpha", "beta"]


def test_embed_single_over_rest(stack: Stack, upstream: Running) -> None:
    url = f"{stack.gateway_url}/v1beta/models/gemini-embedding-001:embedContent"
    body = {"content": {"parts": [{"text": "alpha"}]}, "taskType": "RETRIEVAL_QUERY"}
    reply = httpx.post(url, headers={"x-goog-api-key": TOKEN}, json=body)
    assert reply.status_code == 200 and len(reply.json()["embedding"]["values"]) == 8
    assert calls(upstream, "embedContent")[0]["body"] == body


def test_imagen_predict_is_served_by_the_paid_key(stack: Stack, upstream: Running) -> None:
    # google-genai 3.x calls Imagen only on Vertex, so this is the REST call older SDKs make.
    url = f"{stack.gateway_url}/v1beta/models/imagen-3.0-generate-002:predict"
    body = {"instances": [{"prompt": "a cat"}], "parameters": {"sampleCount": 2}}
    reply = httpx.post(url, headers={"x-goog-api-key": TOKEN}, json=body)
    assert reply.status_code == 200
    predictions = reply.json()["predictions"]
    assert len(predictions) == 2 and base64.b64decode(predictions[0]["bytesBase64Encoded"]).startswith(
        b"\x89PNG"
    )
    assert [(c["key"], c["body"]) for c in calls(upstream, "predict")] == [(PAID, body)]


def test_search_model_adds_google_search(gemini: genai.Client, upstream: Running) -> None:
    reply = gemini.models.generate_content(model="gemini-2.5-flash-search", contents="news?")
    assert reply.text is not None and reply.text.startswith("Echo: news? part1 part2")
    assert reply.text.endswith(
        "Sources:\n1. [example.com](https://example.com/a)\n2. [example.org](https://example.org/b)"
    )
    assert reply.candidates and reply.candidates[0].grounding_metadata is not None, "Google's metadata stays"
    served = calls(upstream, "generateContent")[0]
    assert served["model"] == "gemini-2.5-flash"
    assert served["body"]["tools"] == [{"googleSearch": {}}]
    chunks = list(gemini.models.generate_content_stream(model="gemini-2.5-flash-search", contents="live"))
    assert "".join(c.text or "" for c in chunks).endswith("[example.org](https://example.org/b)")


def test_image_model_asks_for_images(gemini: genai.Client, upstream: Running) -> None:
    config = types.GenerateContentConfig(system_instruction="draw well")
    gemini.models.generate_content(model="gemini-2.0-flash-exp-image", contents="a cat", config=config)
    served = calls(upstream, "generateContent")[0]
    assert served["model"] == "gemini-2.0-flash-exp"
    assert served["body"]["generationConfig"]["responseModalities"] == ["TEXT", "IMAGE"]
    assert "tools" not in served["body"] and "systemInstruction" not in served["body"]
    assert served["body"]["contents"][0]["parts"][0] == {"text": "draw well"}


def test_non_thinking_model_sends_zero_budget_and_keeps_the_rest(
    gemini: genai.Client, upstream: Running
) -> None:
    config = types.GenerateContentConfig(temperature=0.3, max_output_tokens=50)
    list(
        gemini.models.generate_content_stream(
            model="gemini-2.5-flash-non-thinking", contents="quick", config=config
        )
    )
    served = calls(upstream, "streamGenerateContent")[0]
    assert served["path"] == "/v1/models/gemini-2.5-flash:streamGenerateContent"
    assert served["body"]["generationConfig"] == {
        "temperature": 0.3,
        "maxOutputTokens": 50,
        "thinkingConfig": {"thinkingBudget": 0},
    }


def test_plain_model_body_reaches_the_upstream_unchanged(stack: Stack, upstream: Running) -> None:
    body = {"contents": [{"parts": [{"text": "x"}]}], "aBrandNewField": {"on": True}}
    url = f"{stack.gateway_url}/v1beta/models/gemini-2.5-flash:generateContent"
    assert httpx.post(url, headers={"x-goog-api-key": TOKEN}, json=body).status_code == 200
    assert calls(upstream, "generateContent")[0]["body"] == body


def test_model_list_pages_filters_and_derives(gemini: genai.Client, stack: Stack) -> None:
    names = [m.name for m in gemini.models.list(config={"page_size": 3})]
    assert "models/gemini-2.0-flash" not in names, "FILTERED_MODELS hides it"
    for name in ("gemini-2.5-flash-search", "gemini-2.0-flash-exp-image", "gemini-2.5-pro-non-thinking"):
        assert f"models/{name}" in names
    assert len(names) == len(set(names)) > 3, "every page was fetched, none twice"
    reply = httpx.get(f"{stack.gateway_url}/v1beta/models", params={"pageSize": 2, "key": TOKEN}).json()
    assert len(reply["models"]) == 2 and reply["nextPageToken"]


def test_get_derived_model(gemini: genai.Client) -> None:
    model = gemini.models.get(model="gemini-2.5-pro-search")
    assert model.name == "models/gemini-2.5-pro-search" and model.input_token_limit == 1048576


def test_file_upload_generate_delete_on_the_key_that_holds_it(
    gemini: genai.Client, stack: Stack, upstream: Running
) -> None:
    uploaded = gemini.files.upload(
        file=io.BytesIO(b"quarterly numbers"), config={"mime_type": "text/plain", "display_name": "q3"}
    )
    assert uploaded.name and uploaded.uri and uploaded.size_bytes == 17
    holder = calls(upstream, "files.upload")[-1]["key"]
    part = types.Part.from_uri(file_uri=uploaded.uri, mime_type="text/plain")
    for i in range(4):  # round robin would reach the other key's project, which answers 403
        reply = gemini.models.generate_content(model="gemini-2.5-flash", contents=[part, f"sum it {i}"])
        assert reply.text == f"Echo: sum it {i} part1 part2"
    assert {c["key"] for c in calls(upstream, "generateContent")} == {holder}
    assert gemini.files.get(name=uploaded.name).display_name == "q3"
    assert [f.name for f in gemini.files.list()] == [uploaded.name]
    other = client(stack, token=OTHER_TOKEN)
    assert list(other.files.list()) == [], "FILES_USER_ISOLATION_ENABLED: other tokens see nothing"
    with pytest.raises(errors.ClientError) as refused:
        other.files.delete(name=uploaded.name)
    assert refused.value.code == 403
    gemini.files.delete(name=uploaded.name)
    assert {c["key"] for c in upstream.fake.calls if c["method"].startswith("files.")} == {holder}
    assert list(gemini.files.list()) == []


def test_multipart_upload_over_rest(stack: Stack, upstream: Running) -> None:
    boundary = "gempool-boundary"
    body = (
        f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
        '{"file": {"displayName": "notes"}}\r\n'
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nsome notes\r\n--{boundary}--\r\n"
    ).encode()
    reply = httpx.post(
        f"{stack.gateway_url}/upload/v1beta/files",
        params={"key": TOKEN},
        headers={
            "x-goog-upload-protocol": "multipart",
            "content-type": f"multipart/related; boundary={boundary}",
        },
        content=body,
    )
    assert reply.status_code == 200, reply.text
    file = reply.json()["file"]
    assert file["displayName"] == "notes" and file["sizeBytes"] == "10"
    holder = calls(upstream, "files.upload")[0]["key"]
    url = f"{stack.gateway_url}/v1beta/{file['name']}"
    assert httpx.get(url, params={"key": TOKEN}).json()["name"] == file["name"]
    assert httpx.delete(url, params={"key": TOKEN}).status_code == 200
    assert [c["key"] for c in upstream.fake.calls if c["method"] != "files.upload"] == [holder, holder]


def test_forged_upload_url_is_refused(stack: Stack, upstream: Running) -> None:
    url = f"{stack.gateway_url}/upload/v1beta/files"
    params = {
        "upload_id": "x",
        "upload_protocol": "resumable",
        "gempool_key_id": "k",
        "gempool_sig": "0" * 32,
    }
    reply = httpx.post(
        url, params=params, headers={"x-goog-upload-command": "upload, finalize"}, content=b"x"
    )
    assert reply.status_code == 401 and reply.json()["error"]["status"] == "UNAUTHENTICATED"
    assert not upstream.fake.calls


def test_fake_stream_sends_keep_alives_while_a_slow_upstream_thinks(
    gemini: genai.Client, stack: Stack, upstream: Running
) -> None:
    set_live(stack, FAKE_STREAM_ENABLED=True, FAKE_STREAM_EMPTY_DATA_INTERVAL_SECONDS=0.2)
    upstream.fake.rules.models["gemini-2.5-pro"] = Behaviour("slow", 1.2)
    try:
        url = f"{stack.gateway_url}/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
        arrivals: list[tuple[float, bytes]] = []
        started = time.monotonic()
        body = {"contents": [{"parts": [{"text": "ponder"}]}]}
        with httpx.stream("POST", url, headers={"x-goog-api-key": TOKEN}, json=body) as reply:
            assert reply.status_code == 200
            for chunk in reply.iter_raw():
                arrivals.append((time.monotonic() - started, chunk))
        early = [t for t, chunk in arrivals if chunk.strip() == b"" and t < 1.0]
        assert len(early) >= 3, f"keep-alives before the answer: {arrivals}"
        chunks = list(gemini.models.generate_content_stream(model="gemini-2.5-pro", contents="ponder"))
        assert "".join(c.text or "" for c in chunks) == "Echo: ponder part1 part2"
        assert {c["method"] for c in upstream.fake.calls} == {"generateContent"}
    finally:
        set_live(stack, FAKE_STREAM_ENABLED=False)


def test_vertex_express_through_the_sdk_and_gemini_balance_paths(stack: Stack, upstream: Running) -> None:
    options = types.HttpOptions(base_url=f"{stack.gateway_url}/vertex-express")
    vertex = genai.Client(vertexai=True, api_key=TOKEN, http_options=options)
    reply = vertex.models.generate_content(model="gemini-2.5-flash-search", contents="on vertex")
    assert reply.text is not None and reply.text.startswith("Echo: on vertex part1 part2\n\nSources:\n1. ")
    url = f"{stack.gateway_url}/vertex-express/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    body = {"contents": [{"parts": [{"text": "old path"}]}]}
    streamed = httpx.post(url, headers={"x-goog-api-key": TOKEN}, json=body)
    assert streamed.status_code == 200 and streamed.text.count("data: ") == 3
    first, second = upstream.fake.calls
    assert first["path"] == "/v1beta1/publishers/google/models/gemini-2.5-flash:generateContent"
    assert first["body"]["tools"] == [{"googleSearch": {}}]
    assert second["path"] == "/v1beta1/publishers/google/models/gemini-2.5-flash:streamGenerateContent"
    assert first["key"] == second["key"] == VERTEX
    listed = httpx.get(f"{stack.gateway_url}/vertex-express/v1beta/models", params={"key": TOKEN})
    native = httpx.get(f"{stack.gateway_url}/v1beta/models", params={"key": TOKEN})
    assert listed.status_code == 200 and listed.json() == native.json()
    assert "models/gemini-2.5-flash-search" in [m["name"] for m in listed.json()["models"]]
    one = httpx.get(f"{stack.gateway_url}/vertex-express/v1beta/models/gemini-2.5-flash-search?key={TOKEN}")
    assert one.json()["name"] == "models/gemini-2.5-flash-search"


def test_tts_model_answers_audio_with_the_default_voice(gemini: genai.Client, upstream: Running) -> None:
    reply = gemini.models.generate_content(model="gemini-2.5-flash-preview-tts", contents="Say hello")
    assert reply.candidates and reply.candidates[0].content and reply.candidates[0].content.parts
    audio = reply.candidates[0].content.parts[0].inline_data
    assert audio is not None and audio.mime_type == "audio/L16;codec=pcm;rate=24000"
    assert audio.data is not None and len(audio.data) == 48000
    sent = calls(upstream, "generateContent")[0]["body"]
    assert sent["generationConfig"] == {
        "responseModalities": ["AUDIO"],
        "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}},
    }
    assert "tools" not in sent and "safetySettings" not in sent


def test_stream_optimizer_paces_long_text(gemini: genai.Client, stack: Stack) -> None:
    set_live(stack, STREAM_OPTIMIZER_ENABLED=True, STREAM_MIN_DELAY=0.001, STREAM_MAX_DELAY=0.002)
    try:
        chunks = list(gemini.models.generate_content_stream(model="gemini-2.5-flash", contents="a b c"))
    finally:
        set_live(stack, STREAM_OPTIMIZER_ENABLED=False)
    texts = [c.text or "" for c in chunks]
    assert "".join(texts) == "Echo: a b c part1 part2"
    assert len(chunks) == len("Echo: a b c") + len(" part1") + len(" part2"), "one character per event"
    assert chunks[-1].candidates and chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
