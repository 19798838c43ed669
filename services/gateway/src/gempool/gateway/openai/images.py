"""Image generation: ``POST /v1/images/generations`` and the ``{CREATE_IMAGE_MODEL}-chat`` model.

Imagen models answer ``:predict``; Gemini image models ``generateContent`` with image output. Both
use the paid pool (PAID_KEY). Images go out as URLs through imagehost, or inline when it cannot
host them.
"""

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse

from gempool.api.keypool.v1 import keypool_pb2 as kp
from gempool.gateway.errors import Dialect, error_response
from gempool.gateway.openai import answers, stream
from gempool.gateway.openai.adapters import Deferred, OpenAIAdapter
from gempool.gateway.openai.media import upload_all
from gempool.gateway.openai.schemas import ChatCompletionRequest, ImageRequest
from gempool.gateway.pipeline.adapter import STREAM_HEADERS
from gempool.gateway.pipeline.proxy import Call, forward
from gempool.gateway.runtime import Live, Runtime

RATIOS = {"1:1": 1.0, "3:4": 0.75, "4:3": 4 / 3, "9:16": 9 / 16, "16:9": 16 / 9}
Image = tuple[str, str]  # (mime type, base64 data)


def aspect_ratio(size: str | None) -> str | None:
    """``1792x1024`` -> ``16:9``: the supported ratio nearest to the requested size."""
    width, _, height = (size or "").lower().partition("x")
    if not (width.isdigit() and height.isdigit()) or int(height) == 0:
        return None
    wanted = int(width) / int(height)
    return min(RATIOS, key=lambda r: abs(RATIOS[r] - wanted))


def upstream_request(model: str, prompt: str, n: int, size: str | None) -> tuple[str, dict[str, Any]]:
    """``(method, body)`` asking ``model`` for ``n`` images of ``prompt``."""
    if not model.startswith("imagen"):
        config = {"responseModalities": ["TEXT", "IMAGE"]}
        return "generateContent", {
            "contents": [{"role": "user", "parts": [{"text": prompt}]}],
            "generationConfig": config,
        }
    parameters: dict[str, Any] = {"sampleCount": n}
    ratio = aspect_ratio(size)
    if ratio:
        parameters["aspectRatio"] = ratio
    return "predict", {"instances": [{"prompt": prompt}], "parameters": parameters}


def images_of(answer: Any) -> list[Image]:
    if not isinstance(answer, dict):
        return []
    found = [
        (str(p.get("mimeType") or "image/png"), str(p["bytesBase64Encoded"]))
        for p in answer.get("predictions") or ()
        if isinstance(p, dict) and p.get("bytesBase64Encoded")
    ]
    return found + answers.images(answer)


def why_no_image(answer: Any) -> str:
    """What to tell a client that got no image (gemini-balance FAQ 11: users could not tell why)."""
    base = "The model returned no image for this prompt"
    if isinstance(answer, dict):
        for prediction in answer.get("predictions") or ():
            if isinstance(prediction, dict) and prediction.get("raiFilteredReason"):
                return f"{base}: {prediction['raiFilteredReason']}"
        feedback = answer.get("promptFeedback")
        if isinstance(feedback, dict) and feedback.get("blockReason"):
            return f"{base}: Google blocked the prompt ({feedback['blockReason']})."
        for candidate in answer.get("candidates") or ():
            reason = candidate.get("finishReason") if isinstance(candidate, dict) else None
            if reason and reason != "STOP":
                return f"{base}: Google withheld it (finishReason {reason})."
    return f"{base}. Google's safety filters often withhold images without saying why; try rephrasing it."


def image_call(model: str, prompt: str, n: int, size: str | None, adapter: OpenAIAdapter) -> Call:
    method, body = upstream_request(model, prompt, n, size)
    return Call(
        Dialect.OPENAI,
        "openai.images",
        model,
        f"/v1beta/models/{model}:{method}",
        body=orjson.dumps(body),
        headers={"content-type": "application/json"},
        pool=kp.POOL_PAID,
        adapter=adapter,
    )


class ImagesAdapter(OpenAIAdapter):
    """Upstream images -> ``{"created", "data": [{"url"} | {"b64_json"}]}``."""

    def __init__(self, rt: Runtime, base_url: str, as_url: bool) -> None:
        self.rt, self.base_url, self.as_url = rt, base_url, as_url

    def success(self, body: bytes, content_type: str) -> Response:
        answer = _loads(body)
        found = images_of(answer)
        if not found:
            return error_response(Dialect.OPENAI, 400, why_no_image(answer))

        async def render() -> bytes:
            links = await upload_all(self.rt, found, self.base_url) if self.as_url else {}
            data = [_item(mime, b64, links.get(b64), self.as_url) for mime, b64 in found]
            return orjson.dumps({"created": int(time.time()), "data": data})

        return Deferred(render)


def _item(mime: str, b64: str, url: str | None, as_url: bool) -> dict[str, str]:
    if not as_url:
        return {"b64_json": b64}
    return {"url": url or f"data:{mime};base64,{b64}"}


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


async def generate(rt: Runtime, live: Live, request: ImageRequest, base_url: str) -> Response:
    model = request.model or ""
    if not model.startswith(("imagen", "gemini")):
        model = live.settings.CREATE_IMAGE_MODEL
    adapter = ImagesAdapter(rt, base_url, request.response_format != "b64_json")
    return await forward(rt, live, image_call(model, request.prompt, request.n or 1, request.size, adapter))


class ImageChatAdapter(OpenAIAdapter):
    """Upstream images -> a chat completion (or its stream) showing them as markdown images."""

    def __init__(self, rt: Runtime, view: answers.View, base_url: str, streaming: bool) -> None:
        self.rt, self.view, self.base_url, self.streaming = rt, view, base_url, streaming

    def success(self, body: bytes, content_type: str) -> Response:
        answer = _loads(body)
        found = images_of(answer)

        async def content() -> str:
            links = await upload_all(self.rt, found, self.base_url)
            parts = [answers.part_text({"inlineData": {"mimeType": m, "data": d}}, links) for m, d in found]
            return "".join(parts).strip() or why_no_image(answer)

        if self.streaming:
            return StreamingResponse(
                self._chunks(content()), media_type="text/event-stream", headers=STREAM_HEADERS
            )

        async def render() -> bytes:
            gemini = {
                "candidates": [{"content": {"parts": [{"text": await content()}]}, "finishReason": "STOP"}]
            }
            return orjson.dumps(answers.completion(gemini, self.view, {}))

        return Deferred(render)

    async def _chunks(self, content: Any) -> AsyncIterator[bytes]:
        writer = stream.ChunkWriter(self.view)
        event = {"candidates": [{"content": {"parts": [{"text": await content}]}, "finishReason": "STOP"}]}
        for chunk in writer.event(event, {}) + writer.end():
            yield chunk


def last_user_text(request: ChatCompletionRequest) -> str:
    for message in reversed(request.messages):
        if message.role == "user":
            if isinstance(message.content, list):
                return " ".join(p.text or "" for p in message.content if p.type == "text").strip()
            return (message.content or "").strip()
    return ""


async def chat(rt: Runtime, live: Live, request: ChatCompletionRequest, base_url: str) -> Response:
    prompt = last_user_text(request)
    if not prompt:
        return error_response(Dialect.OPENAI, 400, "The last user message holds no text to draw.")
    model = live.settings.CREATE_IMAGE_MODEL
    view = answers.View(model=request.model)
    adapter = ImageChatAdapter(rt, view, base_url, bool(request.stream))
    return await forward(rt, live, image_call(model, prompt, request.n or 1, None, adapter))
