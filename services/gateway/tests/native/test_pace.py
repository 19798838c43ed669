"""TTS_SPEED and OpenAI's ``speed``: the mapping, the prompt, and what the upstream receives."""

import copy
from typing import Any

import pytest

from gempool.common.live import LiveSettings, SettingError, validate
from gempool.fakegemini.server import Running
from gempool.gateway.native.conveniences import apply_conveniences
from gempool.gateway.native.pace import pace_for, pace_of_setting, pace_of_speed, spoken
from gempool.gateway.openai.schemas import SpeechRequest
from gempool.gateway.openai.speech import to_gemini

from ..conftest import FakeKeyPool
from ..gateway_app import TOKEN, gateway_client

TTS = "gemini-2.5-flash-preview-tts"


@pytest.mark.parametrize(
    ("speed", "pace"),
    [
        (0.25, "very slow"),
        (0.5, "very slow"),
        (0.51, "slow"),
        (0.89, "slow"),
        (0.9, "normal"),
        (1.0, "normal"),
        (1.1, "normal"),
        (1.11, "fast"),
        (1.99, "fast"),
        (2.0, "very fast"),
        (4.0, "very fast"),
    ],
)
def test_openai_speed_maps_to_a_pace(speed: float, pace: str) -> None:
    assert pace_of_speed(speed) == pace


@pytest.mark.parametrize(
    ("raw", "stored", "pace"),
    [
        ("normal", "normal", "normal"),
        (" Fast ", "fast", "fast"),
        ("VERY   slow", "very slow", "very slow"),
        ("1.5", "1.5", "fast"),
        ("0.25", "0.25", "very slow"),
    ],
)
def test_setting_accepts_pace_words_and_speeds(raw: str, stored: str, pace: str) -> None:
    settings = validate(LiveSettings(), {"TTS_SPEED": raw})
    assert settings.TTS_SPEED == stored
    assert pace_of_setting(settings.TTS_SPEED) == pace


@pytest.mark.parametrize("raw", ["quick", "0.1", "5", "nan", ""])
def test_setting_refuses_other_values(raw: str) -> None:
    with pytest.raises(SettingError) as caught:
        validate(LiveSettings(), {"TTS_SPEED": raw})
    assert "TTS_SPEED" in caught.value.errors


def test_the_clients_speed_wins_over_the_setting() -> None:
    assert pace_for("slow", 2.5) == "very fast"
    assert pace_for("slow", 1.0) == "normal"
    assert pace_for("slow", None) == "slow"


def test_pace_and_instructions_become_the_prompts_first_words() -> None:
    assert spoken("Hi", "normal") == "Hi"
    assert spoken("Hi", "fast") == "Say at a fast pace: Hi"
    assert spoken("Hi", "normal", "Speak warmly:") == "Speak warmly: Hi"
    assert spoken("Hi", "very slow", " Speak warmly. ") == "Speak warmly, at a very slow pace: Hi"


def speech(**fields: Any) -> SpeechRequest:
    return SpeechRequest.model_validate({"model": TTS, "input": "Hello", "voice": "alloy"} | fields)


def test_openai_speech_request_says_the_pace() -> None:
    settings = LiveSettings(TTS_SPEED="slow", TTS_VOICE_NAME="Kore")
    text = to_gemini(speech(), settings)["contents"][0]["parts"][0]["text"]
    assert text == "Say at a slow pace: Hello"
    text = to_gemini(speech(speed=1.0), settings)["contents"][0]["parts"][0]["text"]
    assert text == "Hello"


def test_native_tts_request_gets_the_pace_on_the_last_user_text_only() -> None:
    body: dict[str, Any] = {
        "contents": [
            {"role": "user", "parts": [{"text": "earlier"}]},
            {"role": "model", "parts": [{"text": "ok"}]},
            {"parts": [{"inlineData": {"mimeType": "audio/wav", "data": ""}}, {"text": "Hello"}]},
        ]
    }
    sent = copy.deepcopy(body)
    _, out = apply_conveniences(TTS, sent, LiveSettings(TTS_SPEED="fast"))
    assert sent == body  # the client's body is not changed
    assert out["contents"][:2] == body["contents"][:2]
    assert out["contents"][2]["parts"] == [
        body["contents"][2]["parts"][0],
        {"text": "Say at a fast pace: Hello"},
    ]
    _, out = apply_conveniences(TTS, sent, LiveSettings(TTS_SPEED="normal"))
    assert out["contents"] == body["contents"]
    _, out = apply_conveniences("gemini-2.5-flash", sent, LiveSettings(TTS_SPEED="fast"))
    assert out["contents"] == body["contents"]  # only TTS models


async def test_openai_speech_through_the_gateway(
    fake_pool: tuple[FakeKeyPool, int], upstream: Running
) -> None:
    async with gateway_client(fake_pool, upstream, ["ok-1"], TTS_SPEED="slow") as gw:
        request = {"model": TTS, "input": "Hello", "voice": "kore", "response_format": "wav"}
        for fields, said in [
            ({}, "Say at a slow pace: Hello"),
            ({"speed": 2.5}, "Say at a very fast pace: Hello"),
        ]:
            response = await gw.post(
                "/v1/audio/speech", json=request | fields, headers={"authorization": "Bearer t"}
            )
            assert response.status_code == 200 and response.content.startswith(b"RIFF")
            call = upstream.fake.calls[-1]
            assert call["model"] == TTS and call["method"] == "generateContent"
            assert call["body"]["contents"] == [{"role": "user", "parts": [{"text": said}]}]
        response = await gw.post(
            "/v1/audio/speech", json=request | {"speed": 9}, headers={"authorization": "Bearer t"}
        )
        assert response.status_code == 400


async def test_native_tts_through_the_gateway(fake_pool: tuple[FakeKeyPool, int], upstream: Running) -> None:
    async with gateway_client(fake_pool, upstream, ["ok-1"], TTS_SPEED="0.5") as gw:
        body = {"contents": [{"parts": [{"text": "Hello"}]}]}
        response = await gw.post(
            f"/v1beta/models/{TTS}:generateContent", json=body, headers={"x-goog-api-key": TOKEN}
        )
        assert response.status_code == 200
        sent = upstream.fake.calls[-1]["body"]
        assert sent["contents"] == [{"parts": [{"text": "Say at a very slow pace: Hello"}]}]
        assert sent["generationConfig"]["responseModalities"] == ["AUDIO"]
