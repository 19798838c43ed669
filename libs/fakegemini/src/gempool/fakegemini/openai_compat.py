"""Google's OpenAI-compatible endpoint (``/v1beta/openai/...``), faked.

Keys come as ``Authorization: Bearer``, the one way Google documents for it; errors keep
Google's own body wrapped in a list (``[{"error": {...}}]``), as that endpoint sends them.
"""

import base64
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from gempool.fakegemini import answers, errors

if TYPE_CHECKING:
    from gempool.fakegemini.app import FakeGemini

JSON = "application/json"


def _key(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" else ""


def _error(status_body: tuple[int, bytes]) -> Response:
    status, body = status_body
    return Response(b"[" + body.strip() + b"\n]\n", status_code=status, media_type=JSON)


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


def _chat(body: dict[str, Any], model: str) -> dict[str, Any]:
    text = f"Echo: {_last_user_text(body)}"
    return {
        "id": answers.new_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": 1,
            "completion_tokens": len(text.split()),
            "total_tokens": 1 + len(text.split()),
        },
    }


async def _chat_stream(body: dict[str, Any], model: str, pieces: int) -> AsyncIterator[bytes]:
    words = [f"Echo: {_last_user_text(body)}"] + [f" part{i}" for i in range(1, pieces)]
    base = {
        "id": answers.new_id(),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }
    for index, word in enumerate(words):
        delta = {"content": word, "role": "assistant"} if index == 0 else {"content": word}
        finish = "stop" if index == len(words) - 1 else None
        event = base | {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        yield b"data: " + orjson.dumps(event) + b"\n\n"
    yield b"data: [DONE]\n\n"


def routes(fake: "FakeGemini") -> list[Route]:
    async def endpoint(request: Request) -> Response:
        path = request.path_params["path"]
        key = _key(request)
        if not key:
            return _error(errors.missing_key())
        raw = await request.body()
        body = orjson.loads(raw) if raw else {}
        model = str(body.get("model", "")).removeprefix("models/") if isinstance(body, dict) else ""
        fake.record(request, key, model, f"openai.{path}", body or None)
        failure = fake.failure(fake.rules.for_call(key, model), model, key)
        if failure is not None:
            return _error(failure)
        return answer(request, path, body, model)

    def answer(request: Request, path: str, body: Any, model: str) -> Response:
        if path == "models" and request.method == "GET":
            data = [{"id": f"models/{m[0]}", "object": "model", "owned_by": "google"} for m in answers.MODELS]
            return Response(orjson.dumps({"object": "list", "data": data}), media_type=JSON)
        if path == "chat/completions":
            if body.get("stream"):
                stream = _chat_stream(body, model, fake.rules.chunks)
                return StreamingResponse(stream, media_type="text/event-stream")
            return Response(orjson.dumps(_chat(body, model)), media_type=JSON)
        if path == "embeddings":
            texts = body.get("input") if isinstance(body.get("input"), list) else [body.get("input", "")]
            vectors: list[dict[str, Any]] = [
                {"object": "embedding", "index": i, "embedding": answers.embedding(str(t))["values"]}
                for i, t in enumerate(texts)
            ]
            payload = {"object": "list", "data": vectors, "model": model}
            return Response(orjson.dumps(payload), media_type=JSON)
        if path == "images/generations":
            image = {"b64_json": base64.b64encode(answers.PNG_1PX).decode()}
            return Response(orjson.dumps({"created": int(time.time()), "data": [image]}), media_type=JSON)
        return _error((404, errors.body(404, "NOT_FOUND", f"Unknown path openai/{path}.")))

    return [Route("/{version:str}/openai/{path:path}", endpoint, methods=["GET", "POST"])]
