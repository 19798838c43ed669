"""OpenAI chat requests -> Gemini generateContent bodies (pure translation)."""

from typing import Any

import pytest
from pydantic import ValidationError

from gempool.gateway.openai import legacy, toolids
from gempool.gateway.openai.chat import BadRequest, Blob, remote_urls, to_gemini
from gempool.gateway.openai.schemas import ChatCompletionRequest

PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


def translate(
    model: str = "gemini-2.5-flash", show_thinking: bool = True, fetched: Any = None, **request: Any
) -> Any:
    parsed = ChatCompletionRequest.model_validate({"model": model, **request})
    return to_gemini(parsed, model, fetched or {}, show_thinking)


def test_system_and_developer_become_the_system_instruction_and_roles_map() -> None:
    body = translate(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Salut"},
            {"role": "user", "content": "Again"},
        ]
    )
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief.\n\nAnswer in French."}]}
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Hi"}]},
        {"role": "model", "parts": [{"text": "Salut"}]},
        {"role": "user", "parts": [{"text": "Again"}]},
    ]


def test_no_sampling_setting_is_invented() -> None:
    body = translate(messages=[{"role": "user", "content": "Hi"}])
    assert set(body) == {"contents"}


def test_a_trailing_assistant_message_stays_a_model_prefill() -> None:
    body = translate(
        messages=[{"role": "user", "content": "Count"}, {"role": "assistant", "content": "1, 2,"}]
    )
    assert body["contents"][-1] == {"role": "model", "parts": [{"text": "1, 2,"}]}


def test_sampling_settings_map_to_generation_config() -> None:
    body = translate(
        messages=[{"role": "user", "content": "Hi"}],
        temperature=0.2,
        top_p=0.9,
        max_tokens=10,
        max_completion_tokens=20,
        stop="END",
        n=2,
        seed=7,
        presence_penalty=0.5,
        frequency_penalty=-0.5,
    )
    assert body["generationConfig"] == {
        "temperature": 0.2,
        "topP": 0.9,
        "maxOutputTokens": 20,  # max_completion_tokens wins over the older max_tokens
        "stopSequences": ["END"],
        "candidateCount": 2,
        "seed": 7,
        "presencePenalty": 0.5,
        "frequencyPenalty": -0.5,
    }


def test_zero_temperature_is_sent() -> None:
    body = translate(messages=[{"role": "user", "content": "Hi"}], temperature=0)
    assert body["generationConfig"] == {"temperature": 0}


def test_response_formats() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False}
    as_object = translate(
        messages=[{"role": "user", "content": "x"}], response_format={"type": "json_object"}
    )
    as_schema = translate(
        messages=[{"role": "user", "content": "x"}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "r", "schema": schema, "strict": True},
        },
    )
    assert as_object["generationConfig"] == {"responseMimeType": "application/json"}
    assert as_schema["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseJsonSchema": schema,
    }


def test_images_by_data_url_and_by_fetched_http_url() -> None:
    request: dict[str, Any] = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"},
                    },
                ],
            }
        ]
    }
    parsed = ChatCompletionRequest.model_validate({"model": "m", **request})
    assert remote_urls(parsed) == ["https://example.com/cat.jpg"]
    body = translate(fetched={"https://example.com/cat.jpg": Blob("image/jpeg", "AAAA")}, **request)
    assert body["contents"][0]["parts"] == [
        {"text": "What is this?"},
        {"inlineData": {"mimeType": "image/png", "data": PNG_B64}},
        {"inlineData": {"mimeType": "image/jpeg", "data": "AAAA"}},
    ]


@pytest.mark.parametrize(
    "url", ["data:image/png;base64,@@@", "ftp://example.com/a.png", "data:image/png,plain"]
)
def test_bad_image_urls_are_the_clients_error(url: str) -> None:
    message = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
    with pytest.raises(BadRequest) as caught:
        translate(messages=[message])
    assert caught.value.param == "messages[0].content[0]"


def test_input_audio_and_file_data() -> None:
    body = translate(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                    {
                        "type": "file",
                        "file": {"file_data": "data:application/pdf;base64,JVBERg==", "filename": "a.pdf"},
                    },
                ],
            }
        ]
    )
    assert body["contents"][0]["parts"] == [
        {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERg=="}},
    ]


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        (None, None),
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
    ],
)
def test_tools_and_tool_choice(choice: Any, config: Any) -> None:
    extra = {"tool_choice": choice} if choice is not None else {}
    body = translate(messages=[{"role": "user", "content": "Weather?"}], tools=[WEATHER], **extra)
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Weather in a city",
                    "parametersJsonSchema": WEATHER["function"]["parameters"],  # type: ignore[index]
                }
            ]
        }
    ]
    assert body.get("toolConfig") == ({"functionCallingConfig": config} if config else None)


def history(call_ids: list[str], model: str = "gemini-2.5-flash", **extra: Any) -> Any:
    calls = [
        {"id": cid, "type": "function", "function": {"name": f"fn{i}", "arguments": f'{{"i": {i}}}'}, **extra}
        for i, cid in enumerate(call_ids)
    ]
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "Go"},
        {"role": "assistant", "content": None, "tool_calls": calls},
    ]
    messages += [
        {"role": "tool", "tool_call_id": cid, "content": f'{{"ok": {i}}}'} for i, cid in enumerate(call_ids)
    ]
    messages.append({"role": "tool", "tool_call_id": call_ids[0], "content": "plain text"})
    return translate(model=model, messages=messages)


def test_tool_round_trip_carries_the_signature_and_matches_results_by_id() -> None:
    signed = toolids.new_id("c2lnbmF0dXJl+/==")
    body = history([signed, toolids.new_id()])
    model_turn, results = body["contents"][1], body["contents"][2]
    assert model_turn == {
        "role": "model",
        "parts": [
            {"functionCall": {"name": "fn0", "args": {"i": 0}}, "thoughtSignature": "c2lnbmF0dXJl+/=="},
            {"functionCall": {"name": "fn1", "args": {"i": 1}}},
        ],
    }
    assert results == {  # every result of one turn in one user turn, names found by id
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "fn0", "response": {"ok": 0}}},
            {"functionResponse": {"name": "fn1", "response": {"ok": 1}}},
            {"functionResponse": {"name": "fn0", "response": {"result": "plain text"}}},
        ],
    }


def test_signature_from_googles_extra_content_field() -> None:
    body = history(["call_1"], extra_content={"google": {"thought_signature": "sig"}})
    assert body["contents"][1]["parts"][0]["thoughtSignature"] == "sig"


def test_gemini_3_history_without_signature_gets_the_documented_placeholder() -> None:
    body = history(["call_a", "call_b"], model="gemini-3-pro-preview")
    parts = body["contents"][1]["parts"]
    assert parts[0]["thoughtSignature"] == toolids.SKIP_SIGNATURE and "thoughtSignature" not in parts[1]
    assert "thoughtSignature" not in history(["call_a"])["contents"][1]["parts"][0]


def test_tool_result_for_an_unknown_call_is_refused() -> None:
    with pytest.raises(BadRequest) as caught:
        translate(
            messages=[
                {"role": "user", "content": "x"},
                {"role": "tool", "tool_call_id": "nope", "content": "1"},
            ]
        )
    assert caught.value.param == "messages[1].tool_call_id"


def test_tool_call_arguments_must_be_a_json_object() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1]"}}
    with pytest.raises(BadRequest):
        translate(messages=[{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [call]}])


@pytest.mark.parametrize(
    ("model", "effort", "show", "thinking"),
    [
        ("gemini-2.5-flash", "low", True, {"thinkingBudget": 1024, "includeThoughts": True}),
        ("gemini-2.5-flash", "high", False, {"thinkingBudget": 24576}),
        ("gemini-2.5-flash", "none", True, {"thinkingBudget": 0}),
        ("gemini-3-pro-preview", "medium", True, {"thinkingLevel": "high", "includeThoughts": True}),
    ],
)
def test_reasoning_effort(model: str, effort: str, show: bool, thinking: Any) -> None:
    body = translate(
        model=model, show_thinking=show, messages=[{"role": "user", "content": "x"}], reasoning_effort=effort
    )
    assert body["generationConfig"] == {"thinkingConfig": thinking}


def test_unknown_reasoning_effort_is_refused() -> None:
    with pytest.raises(BadRequest) as caught:
        translate(messages=[{"role": "user", "content": "x"}], reasoning_effort="extreme")
    assert caught.value.param == "reasoning_effort"


def test_no_reasoning_on_2_5_pro_is_its_smallest_budget() -> None:
    body = translate(
        model="gemini-2.5-pro", messages=[{"role": "user", "content": "x"}], reasoning_effort="none"
    )
    assert body["generationConfig"] == {"thinkingConfig": {"thinkingBudget": 128}}


# ---- legacy function calling (functions / function_call / role "function") and logprobs


def translate_modern(model: str = "gemini-2.5-flash", **request: Any) -> Any:
    """What completions.create does: the deprecated fields mapped to tools, then translated."""
    parsed = legacy.modern(ChatCompletionRequest.model_validate({"model": model, **request}))
    return to_gemini(parsed, model, {}, True)


@pytest.mark.parametrize(
    ("legacy_choice", "modern_choice"),
    [
        (None, None),
        ("auto", "auto"),
        ("none", "none"),
        ({"name": "get_weather"}, {"type": "function", "function": {"name": "get_weather"}}),
    ],
)
def test_functions_and_function_call_translate_like_tools_and_tool_choice(
    legacy_choice: Any, modern_choice: Any
) -> None:
    messages = [{"role": "user", "content": "Weather?"}]
    old = {"function_call": legacy_choice} if legacy_choice is not None else {}
    new = {"tool_choice": modern_choice} if modern_choice is not None else {}
    body = translate_modern(messages=messages, functions=[WEATHER["function"]], **old)
    assert body == translate(messages=messages, tools=[WEATHER], **new)
    assert "tools" in body


def legacy_history(model: str = "gemini-2.5-flash", name: bool = True, **call_extra: Any) -> Any:
    result: dict[str, Any] = {"role": "function", "content": '{"temp_c": 21}'}
    if name:
        result["name"] = "get_weather"
    call = {"name": "get_weather", "arguments": '{"city": "Paris"}', **call_extra}
    return translate_modern(
        model=model,
        functions=[WEATHER["function"]],
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "function_call": call},
            result,
        ],
    )


@pytest.mark.parametrize("named", [True, False])
def test_legacy_history_becomes_function_call_and_response_matched_by_name(named: bool) -> None:
    body = legacy_history(name=named)  # without a name: the call before it
    assert body["contents"][1:] == [
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp_c": 21}}}],
        },
    ]


def test_legacy_history_carries_the_signature_or_the_gemini_3_placeholder() -> None:
    signed = legacy_history(extra_content={"google": {"thought_signature": "c2ln"}})
    assert signed["contents"][1]["parts"][0]["thoughtSignature"] == "c2ln"
    unsigned = legacy_history(model="gemini-3-pro-preview")
    assert unsigned["contents"][1]["parts"][0]["thoughtSignature"] == toolids.SKIP_SIGNATURE


def test_function_result_without_a_name_or_a_call_before_it_is_refused() -> None:
    with pytest.raises(BadRequest) as caught:
        translate_modern(messages=[{"role": "user", "content": "x"}, {"role": "function", "content": "1"}])
    assert caught.value.param == "messages[1].name"


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": [WEATHER], "functions": [WEATHER["function"]]}, "functions"),
        (
            {"tool_choice": "auto", "function_call": "auto", "functions": [WEATHER["function"]]},
            "function_call",
        ),
    ],
)
def test_legacy_and_modern_fields_together_are_refused(extra: Any, param: str) -> None:
    with pytest.raises(BadRequest) as caught:
        translate_modern(messages=[{"role": "user", "content": "x"}], **extra)
    assert caught.value.param == param and "not both" in caught.value.message


def test_legacy_is_asked_only_by_the_deprecated_fields() -> None:
    def asked(**request: Any) -> bool:
        parsed = ChatCompletionRequest.model_validate(
            {"model": "m", "messages": [{"role": "user"}], **request}
        )
        return legacy.asked(parsed)

    assert asked(functions=[WEATHER["function"]]) and asked(function_call="none")
    assert not asked(tools=[WEATHER]) and not asked()


@pytest.mark.parametrize(
    ("request_", "config"),
    [
        ({"logprobs": True}, {"responseLogprobs": True}),
        ({"logprobs": True, "top_logprobs": 3}, {"responseLogprobs": True, "logprobs": 3}),
        ({"logprobs": True, "top_logprobs": 0}, {"responseLogprobs": True, "logprobs": 0}),
        ({"logprobs": False}, None),
    ],
)
def test_logprobs_map_to_response_logprobs(request_: Any, config: Any) -> None:
    body = translate(messages=[{"role": "user", "content": "x"}], **request_)
    assert body.get("generationConfig") == config


def test_top_logprobs_needs_logprobs_and_at_most_20() -> None:
    with pytest.raises(BadRequest) as caught:
        translate(messages=[{"role": "user", "content": "x"}], top_logprobs=2)
    assert caught.value.param == "top_logprobs"
    with pytest.raises(ValidationError):
        translate(messages=[{"role": "user", "content": "x"}], logprobs=True, top_logprobs=21)
