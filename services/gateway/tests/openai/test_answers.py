"""Gemini answers and stream events -> OpenAI chat completions and chunks (pure translation)."""

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import orjson
import pytest

from gempool.gateway.openai import toolids
from gempool.gateway.openai.adapters import ChatAdapter
from gempool.gateway.openai.answers import View, completion
from gempool.gateway.openai.stream import DONE, ChunkWriter, SseReader

USAGE = {
    "promptTokenCount": 10,
    "candidatesTokenCount": 5,
    "thoughtsTokenCount": 7,
    "cachedContentTokenCount": 2,
    "totalTokenCount": 22,
}


def answer(parts: list[Any], finish: str | None = "STOP", **extra: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0, **extra}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": USAGE}


def view(**kw: Any) -> View:
    return View(model="gemini-2.5-flash", id="chatcmpl-1", created=1, **kw)


def test_text_thoughts_and_usage() -> None:
    out = completion(
        answer([{"text": "Plan.", "thought": True}, {"text": "Hello"}, {"text": " world"}]), view(), {}
    )
    assert out == {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gemini-2.5-flash",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello world", "reasoning_content": "Plan."},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 12,
            "total_tokens": 22,
            "prompt_tokens_details": {"cached_tokens": 2},
            "completion_tokens_details": {"reasoning_tokens": 7},
        },
    }


def test_thoughts_hidden_unless_shown() -> None:
    out = completion(
        answer([{"text": "Plan.", "thought": True}, {"text": "Hi"}]), view(show_thinking=False), {}
    )
    assert out["choices"][0]["message"] == {"role": "assistant", "content": "Hi"}


@pytest.mark.parametrize(
    ("gemini", "openai"),
    [
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("OTHER", "stop"),
    ],
)
def test_finish_reasons(gemini: str, openai: str) -> None:
    assert completion(answer([{"text": "x"}], gemini), view(), {})["choices"][0]["finish_reason"] == openai


def test_function_call_becomes_a_tool_call_whose_id_carries_the_signature() -> None:
    part = {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "U0lH"}
    message = completion(answer([part]), view(), {})["choices"][0]
    assert message["finish_reason"] == "tool_calls" and message["message"]["content"] is None
    (call,) = message["message"]["tool_calls"]
    assert call["type"] == "function"
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    assert call["extra_content"] == {"google": {"thought_signature": "U0lH"}}
    assert call["id"].startswith("call_") and toolids.signature(call["id"]) == "U0lH"


def test_blocked_prompt_is_a_content_filter_answer() -> None:
    out = completion({"promptFeedback": {"blockReason": "SAFETY"}}, view(), {})
    assert out["choices"][0]["finish_reason"] == "content_filter"


def test_images_are_markdown_links_or_inline_data() -> None:
    parts = [
        {"inlineData": {"mimeType": "image/png", "data": "AAA"}},
        {"inlineData": {"mimeType": "image/png", "data": "BBB"}},
    ]
    content = completion(answer(parts), view(), {"AAA": "http://gw/images/a.png"})["choices"][0]["message"][
        "content"
    ]
    assert "![image](http://gw/images/a.png)" in content
    assert "![image](data:image/png;base64,BBB)" in content


def test_search_sources_only_when_shown() -> None:
    grounding = {"groundingChunks": [{"web": {"uri": "https://a.example", "title": "A"}}]}
    shown = completion(answer([{"text": "x"}], groundingMetadata=grounding), view(), {})
    hidden = completion(
        answer([{"text": "x"}], groundingMetadata=grounding), view(show_search_link=False), {}
    )
    assert "1. [A](https://a.example)" in shown["choices"][0]["message"]["content"]
    assert hidden["choices"][0]["message"]["content"] == "x"


# ---- streams


def test_sse_reader_handles_any_split_and_both_separators() -> None:
    raw = b'data: {"a": 1}\r\n\r\ndata: {"b": 2}\n\n: comment\n\ndata: {"c"'
    reader, events = SseReader(), []
    for i in range(len(raw)):
        events += reader.feed(raw[i : i + 1])
    assert events == [{"a": 1}, {"b": 2}]
    reader.feed(b": 3}")
    assert reader.close() == [{"c": 3}]


def frames(chunks: list[bytes]) -> list[Any]:
    out = []
    for chunk in chunks:
        assert chunk.startswith(b"data: ") and chunk.endswith(b"\n\n")
        body = chunk[6:-2]
        out.append(body.decode() if body == b"[DONE]" else orjson.loads(body))
    return out


def deltas(events: list[Any]) -> list[Any]:
    return [
        (e["choices"][0]["delta"], e["choices"][0]["finish_reason"])
        for e in events
        if e != "[DONE]" and e["choices"]
    ]


def test_stream_role_first_then_deltas_finish_usage_and_done() -> None:
    writer = ChunkWriter(view(include_usage=True))
    chunks = writer.event(answer([{"text": "Hel"}], finish=None), {})
    chunks += writer.event(answer([{"text": "lo"}]), {})
    events = frames(chunks + writer.end())
    assert deltas(events) == [
        ({"role": "assistant", "content": ""}, None),
        ({"content": "Hel"}, None),
        ({"content": "lo"}, None),
        ({}, "stop"),
    ]
    assert all(e["object"] == "chat.completion.chunk" and e["id"] == "chatcmpl-1" for e in events[:-1])
    assert (
        events[-2]["choices"] == []
        and events[-2]["usage"]["completion_tokens_details"]["reasoning_tokens"] == 7
    )
    assert events[-1] == "[DONE]"


def test_stream_without_include_usage_has_no_usage_chunk() -> None:
    writer = ChunkWriter(view())
    events = frames(writer.event(answer([{"text": "x"}]), {}) + writer.end())
    assert all("usage" not in e for e in events[:-1]) and events[-1] == "[DONE]"


def test_stream_tool_calls_come_as_id_and_name_then_arguments() -> None:
    writer = ChunkWriter(view())
    parts = [
        {"functionCall": {"name": "a", "args": {"x": 1}}, "thoughtSignature": "U0lH"},
        {"functionCall": {"name": "b", "args": {}}},
    ]
    found = deltas(frames(writer.event(answer(parts), {}) + writer.end()))
    assert [d for d, _ in found[1:5]] == [
        {"tool_calls": [{"index": 0, "id": found[1][0]["tool_calls"][0]["id"], "type": "function",
                         "function": {"name": "a", "arguments": ""},
                         "extra_content": {"google": {"thought_signature": "U0lH"}}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"x":1}'}}]},
        {"tool_calls": [{"index": 1, "id": found[3][0]["tool_calls"][0]["id"], "type": "function",
                         "function": {"name": "b", "arguments": ""}}]},
        {"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]},
    ]  # fmt: skip
    assert toolids.signature(found[1][0]["tool_calls"][0]["id"]) == "U0lH"
    assert found[-1] == ({}, "tool_calls")


def test_stream_cut_short_ends_with_an_error_event() -> None:
    writer = ChunkWriter(view())
    events = frames(writer.event(answer([{"text": "x"}], finish=None), {}) + writer.end())
    assert events[-2]["error"]["message"].startswith("The upstream stream ended") and events[-1] == "[DONE]"


def test_upstream_error_event_is_passed_on() -> None:
    writer = ChunkWriter(view())
    events = frames(writer.event({"error": {"code": 500, "message": "boom"}}, {}) + writer.end())
    assert events == [
        {"error": {"message": "boom", "type": "api_error", "param": None, "code": None}},
        "[DONE]",
    ]
    assert DONE == b"data: [DONE]\n\n"


def test_stream_sources_come_with_the_last_content() -> None:
    grounding = {"groundingChunks": [{"web": {"uri": "https://a.example", "title": "A"}}]}
    writer = ChunkWriter(view())
    chunks = writer.event(answer([{"text": "x"}], finish=None), {})
    chunks += writer.event(answer([{"text": "y"}], groundingMetadata=grounding), {})
    found = deltas(frames(chunks + writer.end()))
    assert found[1] == ({"content": "x"}, None)
    assert (
        found[2][0]["content"].startswith("y\n\n**Sources**")
        and "[A](https://a.example)" in found[2][0]["content"]
    )
    assert found[3] == ({}, "stop")


async def test_a_client_leaving_the_stream_closes_the_upstream_relay_at_once() -> None:
    closed = []

    async def relay() -> AsyncIterator[bytes]:
        try:
            for text in ("a", "b", "c"):
                yield b"data: " + orjson.dumps(answer([{"text": text}], finish=None)) + b"\n\n"
        finally:
            closed.append(True)

    adapter = ChatAdapter(None, view(), "http://gw", streaming=True)  # type: ignore[arg-type]
    chunks = adapter._translate(relay())
    assert isinstance(chunks, AsyncGenerator)  # what a caller closes early
    assert (await anext(chunks)).startswith(b"data: ")
    await chunks.aclose()
    assert closed == [True]


def test_stream_sources_seen_before_the_finish_or_after_it_are_said_once() -> None:
    grounding = {"groundingChunks": [{"web": {"uri": "https://a.example", "title": "A"}}]}
    writer = ChunkWriter(view())
    chunks = writer.event(answer([{"text": "x"}], finish=None, groundingMetadata=grounding), {})
    chunks += writer.event(answer([{"text": "y"}]), {})
    chunks += writer.event(answer([], finish=None, groundingMetadata=grounding), {})
    found = deltas(frames(chunks + writer.end()))
    assert found[1] == ({"content": "x"}, None)
    assert found[2][0]["content"].startswith("y\n\n**Sources**") and found[3] == ({}, "stop")
    assert len(found) == 4  # the late repeat adds nothing

    late = ChunkWriter(view())
    chunks = late.event(answer([{"text": "y"}]), {})
    chunks += late.event(answer([], finish=None, groundingMetadata=grounding), {})
    found = deltas(frames(chunks + late.end()))
    assert found[1:3] == [({"content": "y"}, None), ({}, "stop")]
    assert found[3][0]["content"].startswith("\n\n**Sources**")


# ---- legacy function calls and logprobs

CALL = {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "U0lH"}


def test_legacy_request_gets_message_function_call() -> None:
    second = {"functionCall": {"name": "other", "args": {}}}
    choice = completion(answer([CALL, second]), view(legacy_functions=True), {})["choices"][0]
    assert choice["finish_reason"] == "function_call"
    assert choice["message"] == {
        "role": "assistant",
        "content": None,
        "function_call": {
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
            "extra_content": {"google": {"thought_signature": "U0lH"}},
        },
    }  # the deprecated shape holds one call: the first


def test_legacy_text_answer_is_a_plain_stop() -> None:
    choice = completion(answer([{"text": "Sunny"}]), view(legacy_functions=True), {})["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["message"] == {
        "role": "assistant",
        "content": "Sunny",
    }


def test_stream_legacy_function_call_comes_as_name_then_arguments() -> None:
    writer = ChunkWriter(view(legacy_functions=True))
    found = deltas(frames(writer.event(answer([{**CALL}, CALL]), {}) + writer.end()))
    assert found == [
        ({"role": "assistant", "content": ""}, None),
        (
            {
                "function_call": {
                    "name": "get_weather",
                    "arguments": "",
                    "extra_content": {"google": {"thought_signature": "U0lH"}},
                }
            },
            None,
        ),
        ({"function_call": {"arguments": '{"city":"Paris"}'}}, None),
        ({}, "function_call"),
    ]


LOGPROBS = {
    "topCandidates": [
        {"candidates": [{"token": "Ol", "logProbability": -0.5}, {"token": "Hi", "logProbability": -1.5}]},
        {"candidates": [{"token": "é"}]},
    ],
    "chosenCandidates": [{"token": "Ol", "logProbability": -0.5, "tokenId": 7}, {"token": "é"}],
    "logProbabilitySum": -0.5,
}


def test_logprobs_result_becomes_logprobs_content() -> None:
    candidate: dict[str, Any] = {"logprobsResult": LOGPROBS, "avgLogprobs": -0.25}
    choice = completion(answer([{"text": "Olé"}], **candidate), view(logprobs=True), {})["choices"][0]
    assert choice["logprobs"] == {
        "content": [
            {
                "token": "Ol",
                "logprob": -0.5,
                "bytes": [79, 108],
                "top_logprobs": [
                    {"token": "Ol", "logprob": -0.5, "bytes": [79, 108]},
                    {"token": "Hi", "logprob": -1.5, "bytes": [72, 105]},
                ],
            },
            {  # proto3 JSON leaves out a zero: certainty
                "token": "é",
                "logprob": 0.0,
                "bytes": [195, 169],
                "top_logprobs": [{"token": "é", "logprob": 0.0, "bytes": [195, 169]}],
            },
        ],
        "refusal": None,
    }
    unasked = completion(answer([{"text": "Olé"}], logprobsResult=LOGPROBS), view(), {})
    assert unasked["choices"][0]["logprobs"] is None


def test_logprobs_asked_but_not_given_are_an_empty_list() -> None:
    choice = completion(answer([{"text": "x"}]), view(logprobs=True), {})["choices"][0]
    assert choice["logprobs"] == {"content": [], "refusal": None}


def test_stream_chunks_carry_the_logprobs_of_their_own_tokens() -> None:
    writer = ChunkWriter(view(logprobs=True))
    first = {"chosenCandidates": [{"token": "Ol", "logProbability": -0.5}]}
    second = {"chosenCandidates": [{"token": "é", "logProbability": -0.25}]}
    events = frames(
        writer.event(answer([{"text": "Ol"}], finish=None, logprobsResult=first), {})
        + writer.event(answer([{"text": "é"}], logprobsResult=second), {})
        + writer.end()
    )
    choices = [e["choices"][0] for e in events if e != "[DONE]"]
    assert [(c["delta"], c["logprobs"]) for c in choices] == [
        ({"role": "assistant", "content": ""}, None),
        (
            {"content": "Ol"},
            {
                "content": [{"token": "Ol", "logprob": -0.5, "bytes": [79, 108], "top_logprobs": []}],
                "refusal": None,
            },
        ),
        (
            {"content": "é"},
            {
                "content": [{"token": "é", "logprob": -0.25, "bytes": [195, 169], "top_logprobs": []}],
                "refusal": None,
            },
        ),
        ({}, None),
    ]
    assert choices[-1]["finish_reason"] == "stop"
