"""Answers shaped by what a ``generateContent`` request asks for, as Gemini shapes them.

- function declarations (and a mode other than NONE) on a user turn -> one ``functionCall`` part,
  with a ``thoughtSignature`` on thinking models (2.5 and 3); a ``functionResponse`` turn is
  answered with text that quotes the response;
- Gemini 3 refuses a function call turn in the history whose first call lacks a signature it
  issued (Google answers 400 there too), unless it is Google's documented placeholder;
- ``thinkingConfig.includeThoughts`` -> a ``thought: true`` part first and ``thoughtsTokenCount``;
- ``responseMimeType: application/json`` -> JSON text (shaped by ``responseJsonSchema`` or
  ``responseSchema`` when given);
- a ``googleSearch`` tool -> ``groundingMetadata`` on the last candidate;
- ``responseModalities`` with IMAGE -> an ``inlineData`` PNG part; with AUDIO -> 24 kHz 16-bit PCM;
- ``outputDimensionality`` on embeddings is honoured by ``embedding_dims``;
- ``responseLogprobs`` -> ``logprobsResult`` (``chosenCandidates`` per token of the candidate's
  text, ``topCandidates`` with ``logprobs`` alternatives each, ``logProbabilitySum``) and
  ``avgLogprobs`` on every candidate, per event when streaming (``with_logprobs``); ``logprobs``
  without ``responseLogprobs``, or outside [0, 20], is a 400 (the API reference: "Only valid if
  responseLogprobs=True ... must be in the range of [0, 20]").

``events`` returns None when the request asks for none of this (the plain echo answers apply).
"""

import base64
import re
import secrets
from typing import Any

import orjson

from gempool.fakegemini import answers, errors

Body = dict[str, Any]
SKIP_SIGNATURES = {"skip_thought_signature_validator", "context_engineering_is_the_way_to_go"}
PCM_SECOND = b"\x00\x00" * 24000  # one second of silence, audio/L16 at 24 kHz


def is_thinking(model: str) -> bool:
    return model.startswith(("gemini-2.5", "gemini-3"))


def config(body: Body) -> Body:
    found = body.get("generationConfig")
    return found if isinstance(found, dict) else {}


def check(body: Body, model: str, issued: set[str]) -> tuple[int, bytes] | None:
    """Google's 400s for what a generate request may not ask: see the checks below."""
    return _check_logprobs(body) or _check_signatures(body, model, issued)


def _check_logprobs(body: Body) -> tuple[int, bytes] | None:
    cfg = config(body)
    top = cfg.get("logprobs")
    if top is None:
        return None
    if not cfg.get("responseLogprobs"):
        return errors.bad_request("logprobs is only valid if response_logprobs is true.")
    if not isinstance(top, int) or not 0 <= top <= 20:
        return errors.bad_request(f"logprobs must be in the range of [0, 20], got {top}.")
    return None


def _check_signatures(body: Body, model: str, issued: set[str]) -> tuple[int, bytes] | None:
    """Google's 400 for a Gemini 3 history that lost a function call's thought signature."""
    if not model.startswith("gemini-3"):
        return None
    for index, content in enumerate(body.get("contents") or ()):
        calls = [p for p in content.get("parts") or () if isinstance(p, dict) and "functionCall" in p]
        if not calls or content.get("role") != "model":
            continue
        signature = calls[0].get("thoughtSignature")
        if signature not in issued and signature not in SKIP_SIGNATURES:
            name = calls[0]["functionCall"].get("name")
            return errors.bad_request(
                "Function call is missing a thought_signature in functionCall parts. This is required "
                "for tools to work correctly, and missing thought_signature may lead to degraded model "
                f"performance. Additional data, function call `default_api:{name}` , position {index + 1}. "
                "Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
            )
    return None


def events(body: Body, model: str, count: int, issued: set[str]) -> list[Body] | None:
    cfg = config(body)
    modalities = {str(m).upper() for m in cfg.get("responseModalities") or ()}
    thoughts = bool((cfg.get("thinkingConfig") or {}).get("includeThoughts")) and is_thinking(model)
    call = _function_to_call(body)
    json_mode = cfg.get("responseMimeType") == "application/json"
    replying = _last_function_response(body)
    search = _searching(body)
    if not (call or thoughts or json_mode or replying or search or modalities & {"IMAGE", "AUDIO"}):
        return None
    if "AUDIO" in modalities:
        audio = _blob("audio/L16;codec=pcm;rate=24000", PCM_SECOND)
        return [_event(model, [audio], body, answers.new_id(), final=True)]
    parts = _answer_parts(body, model, count, call, json_mode, replying, issued)
    if "IMAGE" in modalities:
        parts[-1].append(_blob("image/png", answers.PNG_1PX))
    response_id = answers.new_id()
    out = [_event(model, p, body, response_id, final=i == len(parts) - 1) for i, p in enumerate(parts)]
    if search:
        out[-1]["candidates"][0]["groundingMetadata"] = grounding(answers.last_user_text(body))
    if thoughts:
        thought = {"text": f"Thinking about: {answers.last_user_text(body)}", "thought": True}
        out[0]["candidates"][0]["content"]["parts"].insert(0, thought)
        out[-1]["usageMetadata"]["thoughtsTokenCount"] = 5
        out[-1]["usageMetadata"]["totalTokenCount"] += 5
    return out


def _answer_parts(
    body: Body,
    model: str,
    count: int,
    call: Body | None,
    json_mode: bool,
    replying: Body | None,
    issued: set[str],
) -> list[list[Body]]:
    """The parts of each event, in order."""
    if call is not None:
        part: Body = {"functionCall": call}
        if is_thinking(model):
            signature = base64.b64encode(secrets.token_bytes(48)).decode()
            issued.add(signature)
            part["thoughtSignature"] = signature
        return [[part]]
    if json_mode:
        schema = config(body).get("responseJsonSchema") or config(body).get("responseSchema")
        value = sample(schema) if isinstance(schema, dict) else {"echo": answers.last_user_text(body)}
        return [[{"text": orjson.dumps(value).decode()}]]
    if replying is not None:
        quoted = orjson.dumps(replying.get("response")).decode()
        return [[{"text": f"Result of {replying.get('name')}: {quoted}"}]]
    return [[{"text": text}] for text in answers.pieces(body, max(1, count))]


def _event(model: str, parts: list[Body], body: Body, response_id: str, *, final: bool) -> Body:
    text = " ".join(str(p.get("text", "")) for p in parts)
    event = answers.chunk("", model, response_id, final=final, prompt_tokens=answers.prompt_tokens(body))
    event["candidates"][0]["content"]["parts"] = parts
    if final:
        event["usageMetadata"] = answers.usage(answers.prompt_tokens(body), max(1, len(text.split())))
    return event


def merge(events: list[Body]) -> Body:
    """A stream's events as the one answer ``generateContent`` gives."""
    parts = [p for e in events for p in e["candidates"][0]["content"]["parts"]]
    out = dict(events[-1])
    out["candidates"] = [dict(events[-1]["candidates"][0])]
    out["candidates"][0]["content"] = {"parts": parts, "role": "model"}
    return out


TOKEN = re.compile(r"\s*\S+|\s+")


def with_logprobs(events: list[Body], body: Body) -> list[Body]:
    """Each candidate's ``logprobsResult`` and ``avgLogprobs``, when the request asked for them.

    The tokens are the candidate's (non-thought) text cut at spaces; the chosen token is always the
    likeliest, its alternatives follow in descending order. Values are exact binary fractions.
    """
    cfg = config(body)
    if not cfg.get("responseLogprobs"):
        return events
    top = int(cfg.get("logprobs") or 0)
    for event in events:
        for candidate in event.get("candidates") or ():
            parts = (candidate.get("content") or {}).get("parts") or ()
            text = "".join(str(p.get("text", "")) for p in parts if not p.get("thought"))
            candidate["logprobsResult"], average = _logprobs(TOKEN.findall(text), top)
            if average is not None:
                candidate["avgLogprobs"] = average
    return events


def _logprobs(tokens: list[str], top: int) -> tuple[Body, float | None]:
    values = [-0.125 * (1 + i % 4) for i in range(len(tokens))]
    chosen = [
        {"token": token, "tokenId": 1000 + sum(token.encode()), "logProbability": value}
        for token, value in zip(tokens, values, strict=True)
    ]
    result: Body = {}
    if top:
        result["topCandidates"] = [
            {
                "candidates": [c]
                + [{"token": f" alt{k}", "tokenId": k, "logProbability": v - k} for k in range(1, top)]
            }
            for c, v in zip(chosen, values, strict=True)
        ]
    if not chosen:
        return result, None
    result["chosenCandidates"] = chosen
    result["logProbabilitySum"] = sum(values)
    return result, sum(values) / len(values)


def _searching(body: Body) -> bool:
    tools = [t for t in body.get("tools") or () if isinstance(t, dict)]
    return any("googleSearch" in t or "google_search" in t for t in tools)


def grounding(query: str) -> Body:
    """What the Google Search tool adds to the last candidate: queries, sources, supports."""
    sources = [("example.com", "https://example.com/a"), ("example.org", "https://example.org/b")]
    return {
        "webSearchQueries": [query],
        "searchEntryPoint": {"renderedContent": f"<div class='search'>{query}</div>"},
        "groundingChunks": [{"web": {"uri": uri, "title": title}} for title, uri in sources],
        "groundingSupports": [
            {
                "segment": {"startIndex": 0, "endIndex": 5, "text": "Echo:"},
                "groundingChunkIndices": [0, 1],
                "confidenceScores": [0.9, 0.7],
            }
        ],
    }


def _blob(mime: str, data: bytes) -> Body:
    return {"inlineData": {"mimeType": mime, "data": base64.b64encode(data).decode()}}


def _declarations(body: Body) -> list[Body]:
    return [
        d
        for tool in body.get("tools") or ()
        if isinstance(tool, dict)
        for d in tool.get("functionDeclarations") or ()
        if isinstance(d, dict)
    ]


def _last_turn(body: Body) -> Body:
    contents = body.get("contents") or [{}]
    last = contents[-1]
    return last if isinstance(last, dict) else {}


def _last_function_response(body: Body) -> Body | None:
    for part in _last_turn(body).get("parts") or ():
        if isinstance(part, dict) and isinstance(part.get("functionResponse"), dict):
            return dict(part["functionResponse"])
    return None


def _function_to_call(body: Body) -> Body | None:
    """The call the model makes: the allowed (or first) declared function, on a user's text turn."""
    declarations = _declarations(body)
    mode_config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    if not declarations or mode_config.get("mode") == "NONE" or _last_function_response(body) is not None:
        return None
    allowed = mode_config.get("allowedFunctionNames") or []
    chosen = next((d for d in declarations if d.get("name") in allowed), declarations[0])
    schema = chosen.get("parametersJsonSchema") or chosen.get("parameters") or {}
    args = sample(schema) if schema else {}
    return {"name": chosen.get("name", ""), "args": args if isinstance(args, dict) else {}}


def sample(schema: Body) -> Any:
    """A value that fits a (JSON or OpenAPI-subset) schema: enough for tests to check its shape."""
    kind = str(schema.get("type", "object")).lower()
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: sample(sub) for name, sub in props.items() if isinstance(sub, dict)}
    if kind == "array":
        items = schema.get("items")
        return [sample(items)] if isinstance(items, dict) else []
    return {"string": "sample", "integer": 1, "number": 1.5, "boolean": True}.get(kind)


def embedding_dims(request: Body, default: int = 8) -> int:
    dims = request.get("outputDimensionality")
    return int(dims) if isinstance(dims, int) and dims > 0 else default
