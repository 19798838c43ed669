"""Gemini ``generateContent`` answers -> OpenAI chat completions (pure).

Generated images must be uploaded before rendering; ``links`` maps an image's base64 data to its
URL, and an image without one is shown inline as a data URL.
"""

import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from gempool.gateway.openai import toolids

Body = dict[str, Any]

FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "LANGUAGE": "content_filter",
}


@dataclass
class View:
    """How this client wants answers shown."""

    model: str
    show_thinking: bool = True
    show_search_link: bool = True
    include_usage: bool = False
    legacy_functions: bool = False  # the client sent functions / function_call (deprecated)
    logprobs: bool = False
    id: str = field(default_factory=lambda: f"chatcmpl-{secrets.token_hex(12)}")
    created: int = field(default_factory=lambda: int(time.time()))


@dataclass
class Said:
    """What one candidate's parts say, in OpenAI's terms."""

    content: str = ""
    reasoning: str = ""
    calls: list[Body] = field(default_factory=list)


def read_parts(parts: list[Any], links: Mapping[str, str], view: View) -> Said:
    said = Said()
    for part in parts:
        if not isinstance(part, dict):
            continue
        if "functionCall" in part:
            said.calls.append(tool_call(part))
        elif part.get("thought"):
            if view.show_thinking:
                said.reasoning += str(part.get("text") or "")
        else:
            said.content += part_text(part, links)
    return said


def part_text(part: Body, links: Mapping[str, str]) -> str:
    if "text" in part:
        return str(part["text"])
    blob = part.get("inlineData")
    if isinstance(blob, dict) and str(blob.get("mimeType", "")).startswith("image/"):
        data = str(blob.get("data", ""))
        url = links.get(data) or f"data:{blob['mimeType']};base64,{data}"
        return f"\n\n![image]({url})\n\n"
    code = part.get("executableCode")
    if isinstance(code, dict):
        return f"\n```{str(code.get('language', '')).lower()}\n{code.get('code', '')}\n```\n"
    result = part.get("codeExecutionResult")
    if isinstance(result, dict) and result.get("output"):
        return f"\n```output\n{result['output']}\n```\n"
    return ""


def tool_call(part: Body) -> Body:
    call = part["functionCall"]
    signature = part.get("thoughtSignature")
    out: Body = {
        "id": toolids.new_id(signature),
        "type": "function",
        "function": {
            "name": call.get("name", ""),
            "arguments": orjson.dumps(call.get("args") or {}).decode(),
        },
    }
    extra = toolids.extra_content(signature)
    if extra:
        out["extra_content"] = extra
    return out


def function_call(call: Body) -> Body:
    """A tool call in the deprecated shape: name and arguments, the signature in extra_content."""
    out: Body = dict(call["function"])
    if call.get("extra_content"):
        out["extra_content"] = call["extra_content"]
    return out


def finish_reason(gemini: str | None, called_tools: bool, legacy: bool = False) -> str | None:
    if not gemini:
        return None
    if called_tools and gemini in ("STOP", "FINISH_REASON_UNSPECIFIED", "OTHER"):
        return "function_call" if legacy else "tool_calls"
    return FINISH.get(gemini, "stop")


def token_logprobs(candidate: Body) -> list[Body]:
    """A candidate's ``logprobsResult`` as OpenAI's ``logprobs.content``: one entry per token.

    proto3 JSON leaves out zero values, so a missing ``logProbability`` is 0.0 (certainty).
    """
    result = candidate.get("logprobsResult")
    if not isinstance(result, dict):
        return []
    chosen = [c for c in result.get("chosenCandidates") or () if isinstance(c, dict)]
    tops = result.get("topCandidates") or []
    out = []
    for step, token in enumerate(chosen):
        top = tops[step] if step < len(tops) and isinstance(tops[step], dict) else {}
        alternatives = [c for c in top.get("candidates") or () if isinstance(c, dict)]
        out.append(_token(token) | {"top_logprobs": [_token(c) for c in alternatives]})
    return out


def _token(candidate: Body) -> Body:
    text = str(candidate.get("token", ""))
    logprob = float(candidate.get("logProbability", 0.0))
    return {"token": text, "logprob": logprob, "bytes": list(text.encode())}


def logprobs(candidate: Body, view: View) -> Body | None:
    """``choices[].logprobs``: None unless the client asked for them."""
    return {"content": token_logprobs(candidate), "refusal": None} if view.logprobs else None


def sources(candidate: Body) -> str:
    """Grounding sources as a markdown list (empty when the answer used none)."""
    chunks = (candidate.get("groundingMetadata") or {}).get("groundingChunks") or []
    webs = [c["web"] for c in chunks if isinstance(c, dict) and isinstance(c.get("web"), dict)]
    lines = [f"{i}. [{w.get('title') or w.get('uri')}]({w.get('uri')})" for i, w in enumerate(webs, 1)]
    return "\n\n**Sources**\n\n" + "\n".join(lines) + "\n" if lines else ""


def usage(answer: Body) -> Body | None:
    meta = answer.get("usageMetadata")
    if not isinstance(meta, dict):
        return None
    prompt = int(meta.get("promptTokenCount", 0)) + int(meta.get("toolUsePromptTokenCount", 0))
    thoughts = int(meta.get("thoughtsTokenCount", 0))
    completion = int(meta.get("candidatesTokenCount", 0)) + thoughts
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(meta.get("totalTokenCount", prompt + completion)),
        "prompt_tokens_details": {"cached_tokens": int(meta.get("cachedContentTokenCount", 0))},
        "completion_tokens_details": {"reasoning_tokens": thoughts},
    }


def candidates(answer: Body) -> Iterator[tuple[int, Body]]:
    for position, candidate in enumerate(answer.get("candidates") or ()):
        if isinstance(candidate, dict):
            yield int(candidate.get("index", position)), candidate


def completion(answer: Body, view: View, links: Mapping[str, str]) -> Body:
    choices = [_choice(index, c, view, links) for index, c in candidates(answer)]
    if not choices and (answer.get("promptFeedback") or {}).get("blockReason"):
        message = {"role": "assistant", "content": None}
        choices = [{"index": 0, "message": message, "logprobs": None, "finish_reason": "content_filter"}]
    out: Body = {
        "id": view.id,
        "object": "chat.completion",
        "created": view.created,
        "model": view.model,
        "choices": choices,
    }
    found = usage(answer)
    if found:
        out["usage"] = found
    return out


def _choice(index: int, candidate: Body, view: View, links: Mapping[str, str]) -> Body:
    said = read_parts((candidate.get("content") or {}).get("parts") or [], links, view)
    content = said.content + (sources(candidate) if view.show_search_link else "")
    message: Body = {"role": "assistant", "content": content or None}
    if said.reasoning:
        message["reasoning_content"] = said.reasoning
    if said.calls and view.legacy_functions:
        message["function_call"] = function_call(said.calls[0])  # the old shape holds one call
    elif said.calls:
        message["tool_calls"] = said.calls
    reason = finish_reason(candidate.get("finishReason"), bool(said.calls), view.legacy_functions)
    return {
        "index": index,
        "message": message,
        "logprobs": logprobs(candidate, view),
        "finish_reason": reason or "stop",
    }


def images(answer: Body) -> list[tuple[str, str]]:
    """``(mime type, base64 data)`` of every generated image in an answer, to upload."""
    found = []
    for _, candidate in candidates(answer):
        for part in (candidate.get("content") or {}).get("parts") or ():
            blob = part.get("inlineData") if isinstance(part, dict) else None
            if isinstance(blob, dict) and str(blob.get("mimeType", "")).startswith("image/"):
                found.append((str(blob["mimeType"]), str(blob.get("data", ""))))
    return found
