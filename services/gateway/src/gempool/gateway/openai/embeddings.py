"""``POST /v1/embeddings`` -> Gemini ``batchEmbedContents``: float or base64 vectors, ``dimensions``."""

import base64
import struct
from typing import Any

import orjson
from starlette.responses import Response

from gempool.gateway.errors import Dialect, error_response
from gempool.gateway.openai.adapters import OpenAIAdapter, json_response
from gempool.gateway.openai.schemas import EmbeddingRequest
from gempool.gateway.pipeline.proxy import Call, forward
from gempool.gateway.runtime import Live, Runtime


def to_gemini(request: EmbeddingRequest, model: str) -> dict[str, Any]:
    texts = [request.input] if isinstance(request.input, str) else request.input
    extra = {"outputDimensionality": request.dimensions} if request.dimensions else {}
    return {
        "requests": [
            {"model": f"models/{model}", "content": {"parts": [{"text": t}]}, **extra} for t in texts
        ]
    }


def encode(values: list[float], as_base64: bool) -> list[float] | str:
    """OpenAI's base64 form: the vector as little-endian float32, base64-encoded."""
    if not as_base64:
        return values
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def from_gemini(answer: dict[str, Any], model: str, as_base64: bool) -> dict[str, Any]:
    vectors = [e.get("values") or [] for e in answer.get("embeddings") or [] if isinstance(e, dict)]
    data = [
        {"object": "embedding", "index": i, "embedding": encode(v, as_base64)} for i, v in enumerate(vectors)
    ]
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": 0, "total_tokens": 0},  # Gemini does not count them here
    }


class EmbeddingsAdapter(OpenAIAdapter):
    def __init__(self, model: str, as_base64: bool) -> None:
        self.model, self.as_base64 = model, as_base64

    def success(self, body: bytes, content_type: str) -> Response:
        try:
            answer = orjson.loads(body)
        except orjson.JSONDecodeError:
            return error_response(Dialect.OPENAI, 502, "The upstream answer was not JSON.")
        return json_response(from_gemini(answer, self.model, self.as_base64))


async def create(rt: Runtime, live: Live, request: EmbeddingRequest) -> Response:
    model = request.model.removeprefix("models/")
    call = Call(
        Dialect.OPENAI,
        "openai.embeddings",
        model,
        f"/v1beta/models/{model}:batchEmbedContents",
        body=orjson.dumps(to_gemini(request, model)),
        headers={"content-type": "application/json"},
        adapter=EmbeddingsAdapter(request.model, request.encoding_format == "base64"),
    )
    return await forward(rt, live, call)
