"""Model conveniences: each transform, and what must stay untouched."""

import copy
from typing import Any

import pytest

from gempool.common.live import LiveSettings
from gempool.gateway.native.conveniences import apply_conveniences, derived_names, may_apply, parse_model

PROMPT: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def settings(**kw: Any) -> LiveSettings:
    base: dict[str, Any] = {
        "SEARCH_MODELS": ["gemini-2.5-flash", "gemini-2.5-pro"],
        "IMAGE_MODELS": ["gemini-2.0-flash-exp"],
        "THINKING_MODELS": ["gemini-2.5-flash", "gemini-2.5-pro"],
        "SHOW_THINKING_PROCESS": False,
    }
    return LiveSettings(**(base | kw))


def apply(model: str, body: dict[str, Any] | None = None, **kw: Any) -> tuple[str, dict[str, Any]]:
    return apply_conveniences(model, copy.deepcopy(body or PROMPT), settings(**kw))


def test_search_suffix_adds_google_search_and_strips_the_name() -> None:
    model, body = apply("gemini-2.5-flash-search")
    assert model == "gemini-2.5-flash"
    assert body["tools"] == [{"googleSearch": {}}]
    assert body["contents"] == PROMPT["contents"]


def test_search_keeps_the_clients_own_tools_and_adds_no_duplicate() -> None:
    sent = PROMPT | {"tools": [{"google_search": {}}, {"codeExecution": {}}]}
    _, body = apply("gemini-2.5-flash-search", sent)
    assert body["tools"] == [{"google_search": {}}, {"codeExecution": {}}]


def test_image_suffix_asks_for_text_and_image_and_never_code_execution() -> None:
    model, body = apply("gemini-2.0-flash-exp-image", TOOLS_CODE_EXECUTION_ENABLED=True)
    assert model == "gemini-2.0-flash-exp"
    assert body["generationConfig"]["responseModalities"] == ["TEXT", "IMAGE"]
    assert "tools" not in body


def test_image_model_folds_the_system_instruction_into_the_first_user_turn() -> None:
    sent = PROMPT | {"systemInstruction": {"parts": [{"text": "be brief"}]}}
    _, body = apply("gemini-2.0-flash-exp-image", sent)
    assert "systemInstruction" not in body
    assert body["contents"][0]["parts"] == [{"text": "be brief"}, {"text": "hi"}]


def test_real_image_model_gets_no_code_execution() -> None:
    model, body = apply("gemini-2.5-flash-image", TOOLS_CODE_EXECUTION_ENABLED=True)
    assert model == "gemini-2.5-flash-image", "not in IMAGE_MODELS: the name is the upstream's own"
    assert "tools" not in body


def test_non_thinking_sets_a_zero_budget() -> None:
    model, body = apply("gemini-2.5-flash-non-thinking")
    assert model == "gemini-2.5-flash"
    assert body["generationConfig"] == {"thinkingConfig": {"thinkingBudget": 0}}


def test_non_thinking_on_pro_uses_its_smallest_budget() -> None:
    _, body = apply("gemini-2.5-pro-non-thinking")
    assert body["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 128}


def test_non_thinking_on_gemini_3_uses_its_lowest_level() -> None:
    models = ["gemini-3-pro-preview", "gemini-3-flash-preview"]
    _, body = apply("gemini-3-pro-preview-non-thinking", THINKING_MODELS=models)
    assert body["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "low"}
    _, body = apply("gemini-3-flash-preview-non-thinking", THINKING_MODELS=models)
    assert body["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "minimal"}


def test_suffixes_combine() -> None:
    model, body = apply("gemini-2.5-flash-search-non-thinking")
    assert model == "gemini-2.5-flash"
    assert body["tools"] == [{"googleSearch": {}}]
    assert body["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 0}


def test_suffix_of_a_model_outside_its_list_passes_through() -> None:
    model, body = apply("gemini-2.0-flash-search")
    assert model == "gemini-2.0-flash-search"
    assert body == PROMPT


def test_thinking_budget_map_and_show_thinking_process() -> None:
    budgets = {"gemini-2.5-flash": 2048}
    _, body = apply("gemini-2.5-flash", THINKING_BUDGET_MAP=budgets, SHOW_THINKING_PROCESS=True)
    assert body["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 2048, "includeThoughts": True}
    _, body = apply("gemini-2.5-flash", THINKING_BUDGET_MAP=budgets)
    assert body["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 2048}
    _, body = apply("gemini-2.5-pro", SHOW_THINKING_PROCESS=True)
    assert "generationConfig" not in body, "no thoughts a native client did not ask for"


def test_clients_thinking_config_wins() -> None:
    sent = PROMPT | {"generationConfig": {"temperature": 0.2, "thinking_config": {"thinking_budget": 99}}}
    _, body = apply(
        "gemini-2.5-flash-non-thinking",
        sent,
        THINKING_BUDGET_MAP={"gemini-2.5-flash": 5},
        SHOW_THINKING_PROCESS=True,
    )
    assert body["generationConfig"] == sent["generationConfig"]


def test_code_execution_only_where_allowed() -> None:
    _, body = apply("gemini-2.5-flash", TOOLS_CODE_EXECUTION_ENABLED=True)
    assert body["tools"] == [{"codeExecution": {}}]
    _, body = apply("gemini-2.5-flash-search", TOOLS_CODE_EXECUTION_ENABLED=True)
    assert body["tools"] == [{"googleSearch": {}}]
    with_image = {"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": "AA=="}}]}]}
    _, body = apply("gemini-2.5-flash", with_image, TOOLS_CODE_EXECUTION_ENABLED=True)
    assert "tools" not in body


def test_url_context_only_for_listed_models() -> None:
    kw: dict[str, Any] = {"URL_CONTEXT_ENABLED": True, "URL_CONTEXT_MODELS": ["gemini-2.5-pro"]}
    _, body = apply("gemini-2.5-pro", **kw)
    assert body["tools"] == [{"urlContext": {}}]
    _, body = apply("gemini-2.5-flash", **kw)
    assert "tools" not in body


def test_no_builtin_tool_beside_function_declarations() -> None:
    functions = {"tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "OBJECT"}}]}]}
    sent = PROMPT | functions
    _, body = apply(
        "gemini-2.5-pro-search",
        sent,
        TOOLS_CODE_EXECUTION_ENABLED=True,
        URL_CONTEXT_ENABLED=True,
        URL_CONTEXT_MODELS=["gemini-2.5-pro"],
    )
    assert body["tools"] == functions["tools"]


def test_safety_settings_default_only_when_the_client_sent_none() -> None:
    default = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "OFF"}]
    _, body = apply("gemini-2.5-flash", SAFETY_SETTINGS=default)
    assert body["safetySettings"] == default
    own = [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}]
    _, body = apply("gemini-2.5-flash", PROMPT | {"safety_settings": own}, SAFETY_SETTINGS=default)
    assert body["safety_settings"] == own and "safetySettings" not in body


def test_tts_model_gets_audio_and_the_default_voice_and_nothing_else() -> None:
    kw: dict[str, Any] = {"TOOLS_CODE_EXECUTION_ENABLED": True, "SAFETY_SETTINGS": [{"category": "x"}]}
    model, body = apply("gemini-2.5-flash-preview-tts", TTS_VOICE_NAME="Kore", **kw)
    assert model == "gemini-2.5-flash-preview-tts"
    assert body["generationConfig"] == {
        "responseModalities": ["AUDIO"],
        "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}},
    }
    assert "tools" not in body and "safetySettings" not in body
    own: dict[str, Any] = {"generationConfig": {"speechConfig": {"multiSpeakerVoiceConfig": {}}}}
    _, body = apply("gemini-2.5-flash-preview-tts", PROMPT | own)
    assert body["generationConfig"]["speechConfig"] == {"multiSpeakerVoiceConfig": {}}


def test_unknown_fields_pass_through_and_the_input_is_not_changed() -> None:
    sent = PROMPT | {
        "futureField": {"a": [1, 2]},
        "generationConfig": {"newKnob": True, "temperature": 0.1},
        "cachedContent": "cachedContents/abc",
    }
    before = copy.deepcopy(sent)
    _, body = apply_conveniences(
        "gemini-2.5-flash-search-non-thinking", sent, settings(TOOLS_CODE_EXECUTION_ENABLED=True)
    )
    assert sent == before
    assert body["futureField"] == {"a": [1, 2]} and body["cachedContent"] == "cachedContents/abc"
    assert body["generationConfig"]["newKnob"] is True and body["generationConfig"]["temperature"] == 0.1


def test_plain_model_is_untouched() -> None:
    model, body = apply("gemini-2.5-flash")
    assert (model, body) == ("gemini-2.5-flash", PROMPT)


@pytest.mark.parametrize(
    ("model", "kw", "expected"),
    [
        ("gemini-2.5-flash", {}, False),
        ("gemini-2.5-flash-search", {}, True),
        ("gemini-2.5-flash", {"SAFETY_SETTINGS": [{"category": "x"}]}, True),
        ("gemini-2.5-flash", {"THINKING_BUDGET_MAP": {"gemini-2.5-flash": 1}}, True),
        ("gemini-2.5-flash", {"SHOW_THINKING_PROCESS": True}, False),
        ("gemini-2.5-flash-preview-tts", {}, True),
    ],
)
def test_may_apply_says_when_the_body_must_be_parsed(model: str, kw: dict[str, Any], expected: bool) -> None:
    assert may_apply(model, settings(**kw)) is expected


def test_may_apply_never_misses_a_change() -> None:
    """Whenever apply_conveniences changes something, may_apply said so beforehand."""
    cases: list[tuple[str, dict[str, Any]]] = [
        ("gemini-2.5-flash", {"TOOLS_CODE_EXECUTION_ENABLED": True}),
        ("gemini-2.5-pro", {"URL_CONTEXT_ENABLED": True, "URL_CONTEXT_MODELS": ["gemini-2.5-pro"]}),
        ("gemini-2.5-pro", {"THINKING_BUDGET_MAP": {"gemini-2.5-pro": 1024}}),
        ("gemini-2.0-flash-exp-image", {}),
        ("gemini-2.5-pro-non-thinking", {}),
    ]
    for model, kw in cases:
        changed = apply(model, **kw) != (model, PROMPT)
        assert changed and may_apply(model, settings(**kw)), model


def test_parse_and_derived_names() -> None:
    s = settings()
    assert parse_model("gemini-2.5-pro-non-thinking", s).non_thinking
    assert not parse_model("gemini-2.5-pro", s).derived
    assert derived_names(s) == [
        "gemini-2.5-flash-search",
        "gemini-2.5-pro-search",
        "gemini-2.0-flash-exp-image",
        "gemini-2.5-flash-non-thinking",
        "gemini-2.5-pro-non-thinking",
    ]
