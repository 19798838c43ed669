"""``POST /v1/audio/speech`` -> a Gemini TTS model; its 24 kHz PCM re-encoded as the client asked.

``speed`` (else TTS_SPEED) and ``instructions`` become words of the prompt (see pace.py).
"""

import asyncio
import base64
from typing import Any

import orjson
from starlette.responses import Response

from gempool.common.live import LiveSettings
from gempool.gateway.errors import Dialect, error_response
from gempool.gateway.native.pace import pace_for, spoken
from gempool.gateway.openai import audio
from gempool.gateway.openai.adapters import OpenAIAdapter
from gempool.gateway.openai.schemas import SpeechRequest
from gempool.gateway.pipeline.proxy import Call, forward
from gempool.gateway.runtime import Live, Runtime

# Gemini's prebuilt voices; OpenAI's names (alloy, nova, ...) fall back to TTS_VOICE_NAME.
VOICES = {
    v.lower(): v
    for v in (
        "Zephyr Puck Charon Kore Fenrir Leda Orus Aoede Callirrhoe Autonoe Enceladus Iapetus Umbriel "
        "Algieba Despina Erinome Algenib Rasalgethi Laomedeia Achernar Alnilam Schedar Gacrux "
        "Pulcherrima Achird Zubenelgenubi Vindemiatrix Sadachbia Sadaltager Sulafat"
    ).split()
}


def to_gemini(request: SpeechRequest, settings: LiveSettings) -> dict[str, Any]:
    voice = VOICES.get(request.voice.lower(), settings.TTS_VOICE_NAME)
    pace = pace_for(settings.TTS_SPEED, request.speed)
    text = spoken(request.input, pace, request.instructions or "")
    config = {
        "responseModalities": ["AUDIO"],
        "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": voice}}},
    }
    return {"contents": [{"role": "user", "parts": [{"text": text}]}], "generationConfig": config}


def pcm_of(answer: Any) -> tuple[bytes, int] | None:
    """The answer's audio as raw 16-bit PCM and its sample rate."""
    for candidate in answer.get("candidates") or () if isinstance(answer, dict) else ():
        for part in (candidate.get("content") or {}).get("parts") or ():
            blob = part.get("inlineData") if isinstance(part, dict) else None
            if isinstance(blob, dict) and str(blob.get("mimeType", "")).startswith("audio/"):
                return base64.b64decode(blob.get("data", "")), audio.sample_rate(str(blob["mimeType"]))
    return None


class SpeechAdapter(OpenAIAdapter):
    def __init__(self, fmt: str) -> None:
        self.fmt = fmt

    def success(self, body: bytes, content_type: str) -> Response:
        try:
            found = pcm_of(orjson.loads(body))
        except (orjson.JSONDecodeError, ValueError):
            found = None
        if found is None:
            return error_response(Dialect.OPENAI, 502, "The speech model returned no audio.")
        return SpeechResponse(*found, self.fmt)


class SpeechResponse(Response):
    """Audio encoded off the event loop, when the answer is sent."""

    def __init__(self, pcm: bytes, rate: int, fmt: str) -> None:
        super().__init__(b"", status_code=200, media_type=audio.MEDIA_TYPES[fmt])
        self.pcm, self.rate, self.fmt = pcm, rate, fmt

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.body = await asyncio.to_thread(audio.encode, self.pcm, self.rate, self.fmt)
        self.init_headers()
        await super().__call__(scope, receive, send)


async def create(rt: Runtime, live: Live, request: SpeechRequest) -> Response:
    model = request.model if "tts" in request.model else live.settings.TTS_MODEL
    call = Call(
        Dialect.OPENAI,
        "openai.speech",
        model,
        f"/v1beta/models/{model}:generateContent",
        body=orjson.dumps(to_gemini(request, live.settings)),
        headers={"content-type": "application/json"},
        check_empty=True,
        adapter=SpeechAdapter(request.response_format or "mp3"),
    )
    return await forward(rt, live, call)
