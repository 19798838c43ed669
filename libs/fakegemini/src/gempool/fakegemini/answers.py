"""Successful answers in the Gemini API's shapes."""

import base64
import uuid
from typing import Any

# The smallest valid PNG: one transparent pixel.
PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def last_user_text(body: dict[str, Any]) -> str:
    for content in reversed(body.get("contents") or []):
        if isinstance(content, dict) and content.get("role", "user") == "user":
            texts = [p.get("text", "") for p in content.get("parts") or [] if isinstance(p, dict)]
            return " ".join(t for t in texts if t)
    return ""


def usage(prompt: int, candidates: int) -> dict[str, Any]:
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + candidates,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
    }


def chunk(text: str, model: str, response_id: str, *, final: bool, prompt_tokens: int) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    out: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": response_id}
    if final:
        candidate["finishReason"] = "STOP"
        out["usageMetadata"] = usage(prompt_tokens, max(1, len(text.split())))
    else:
        out["usageMetadata"] = usage(prompt_tokens, 0) | {"totalTokenCount": prompt_tokens}
    return out


def pieces(body: dict[str, Any], count: int) -> list[str]:
    """The answer text cut into ``count`` pieces: ``Echo: <prompt>`` and then numbered words."""
    prompt = last_user_text(body)
    words = [f"Echo: {prompt}"] + [f" part{i}" for i in range(1, count)]
    return words[:count] if count > 0 else []


def generate(body: dict[str, Any], model: str, count: int) -> dict[str, Any]:
    text = "".join(pieces(body, count))
    return chunk(text, model, new_id(), final=True, prompt_tokens=prompt_tokens(body))


def empty(model: str) -> dict[str, Any]:
    return {
        "usageMetadata": usage(3, 0) | {"totalTokenCount": 3},
        "modelVersion": model,
        "responseId": new_id(),
    }


def blocked(model: str) -> dict[str, Any]:
    return {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": usage(3, 0) | {"totalTokenCount": 3},
        "modelVersion": model,
        "responseId": new_id(),
    }


def prompt_tokens(body: dict[str, Any]) -> int:
    return max(1, len(last_user_text(body).split()))


def new_id() -> str:
    return uuid.uuid4().hex[:22]


def count_tokens(body: dict[str, Any]) -> dict[str, Any]:
    inner = body.get("generateContentRequest") or body
    total = prompt_tokens(inner)
    return {"totalTokens": total, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": total}]}


def embedding(text: str, dims: int = 8) -> dict[str, Any]:
    seed = sum(text.encode()) or 1
    return {"values": [((seed * (i + 1)) % 97) / 97 for i in range(dims)]}


def predict(body: dict[str, Any]) -> dict[str, Any]:
    """Imagen's answer: one image per requested sample (``parameters.sampleCount``, default 1)."""
    count = int((body.get("parameters") or {}).get("sampleCount") or 1)
    image = {"bytesBase64Encoded": base64.b64encode(PNG_1PX).decode(), "mimeType": "image/png"}
    return {"predictions": [dict(image) for _ in range(count)]}


MODELS = [
    ("gemini-2.5-flash", "Gemini 2.5 Flash", ["generateContent", "countTokens", "createCachedContent"]),
    ("gemini-2.5-pro", "Gemini 2.5 Pro", ["generateContent", "countTokens", "createCachedContent"]),
    ("gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite", ["generateContent", "countTokens"]),
    ("gemini-2.0-flash", "Gemini 2.0 Flash", ["generateContent", "countTokens"]),
    ("gemini-2.0-flash-exp", "Gemini 2.0 Flash Experimental", ["generateContent", "countTokens"]),
    ("gemini-embedding-001", "Gemini Embedding 001", ["embedContent", "countTokens"]),
    ("text-embedding-004", "Text Embedding 004", ["embedContent"]),
    ("imagen-3.0-generate-002", "Imagen 3.0", ["predict"]),
    ("gemini-2.5-flash-preview-tts", "Gemini 2.5 Flash Preview TTS", ["generateContent"]),
    ("gemini-3-pro-preview", "Gemini 3 Pro Preview", ["generateContent", "countTokens"]),
]


def model_info(name: str, display: str, methods: list[str]) -> dict[str, Any]:
    return {
        "name": f"models/{name}",
        "version": "001",
        "displayName": display,
        "description": f"Fake {display}",
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": methods,
        "temperature": 1,
        "topP": 0.95,
        "topK": 64,
    }
