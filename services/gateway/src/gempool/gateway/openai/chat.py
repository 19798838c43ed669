"""OpenAI chat request -> Gemini ``generateContent`` body (pure: remote images are fetched first).

Only what the client sent reaches Gemini: no sampling default is invented here.
"""

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from gempool.gateway.openai import toolids
from gempool.gateway.openai.schemas import ChatCompletionRequest, ChatMessage, ContentPart, ToolCall

Body = dict[str, Any]


@dataclass(frozen=True)
class Blob:
    mime_type: str
    data: str  # base64


class BadRequest(ValueError):
    """The client's request cannot be translated; ``param`` names the field, as OpenAI does."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param = message, param


def remote_urls(request: ChatCompletionRequest) -> list[str]:
    """The http(s) image URLs the request points at, to fetch before translating."""
    urls: list[str] = []
    for message in request.messages:
        for part in message.content if isinstance(message.content, list) else ():
            url = part.image_url.url if part.image_url else ""
            if url.startswith(("http://", "https://")) and url not in urls:
                urls.append(url)
    return urls


def to_gemini(
    request: ChatCompletionRequest, model: str, fetched: Mapping[str, Blob], show_thinking: bool
) -> Body:
    body: Body = {"contents": contents(request.messages, model, fetched)}
    system = system_instruction(request.messages)
    if system:
        body["systemInstruction"] = system
    if request.tools:
        declarations = [_declaration(t.function) for t in request.tools if t.function is not None]
        if declarations:
            body["tools"] = [{"functionDeclarations": declarations}]
            if request.tool_choice is not None:
                body["toolConfig"] = {"functionCallingConfig": _calling_config(request)}
    config = generation_config(request, model, show_thinking)
    if config:
        body["generationConfig"] = config
    return body


# ---- messages


def system_instruction(messages: list[ChatMessage]) -> Body | None:
    texts = [_text_of(m) for m in messages if m.role in ("system", "developer")]
    texts = [t for t in texts if t]
    return {"parts": [{"text": "\n\n".join(texts)}]} if texts else None


def contents(messages: list[ChatMessage], model: str, fetched: Mapping[str, Blob]) -> list[Body]:
    out: list[Body] = []
    names = _tool_names(messages)
    for index, message in enumerate(messages):
        if message.role in ("system", "developer"):
            continue
        if message.role in ("tool", "function"):
            part = _function_response(message, names, index)
            if out and out[-1]["role"] == "user" and "functionResponse" in out[-1]["parts"][-1]:
                out[-1]["parts"].append(part)  # parallel calls are answered in one turn
            else:
                out.append({"role": "user", "parts": [part]})
        elif message.role == "assistant":
            parts = _model_parts(message, model, index)
            if parts:
                out.append({"role": "model", "parts": parts})
        else:
            out.append({"role": "user", "parts": _user_parts(message, fetched, index)})
    if not out:
        raise BadRequest("messages must hold at least one user or assistant message.", "messages")
    return out


def _text_of(message: ChatMessage) -> str:
    if isinstance(message.content, list):
        return "".join(p.text or "" for p in message.content if p.type == "text")
    return message.content or ""


def _user_parts(message: ChatMessage, fetched: Mapping[str, Blob], index: int) -> list[Body]:
    if not isinstance(message.content, list):
        return [{"text": message.content or ""}]
    parts = [
        _content_part(p, fetched, f"messages[{index}].content[{i}]") for i, p in enumerate(message.content)
    ]
    return parts or [{"text": ""}]


def _content_part(part: ContentPart, fetched: Mapping[str, Blob], param: str) -> Body:
    if part.type == "text":
        return {"text": part.text or ""}
    if part.type == "image_url" and part.image_url is not None:
        url = part.image_url.url
        blob = fetched.get(url) if url.startswith(("http://", "https://")) else data_url(url, param)
        if blob is None:
            raise BadRequest(f"{param}: the image at {url} could not be fetched.", param)
        return {"inlineData": {"mimeType": blob.mime_type, "data": blob.data}}
    if part.type == "input_audio" and part.input_audio is not None:
        mime = "audio/mp3" if part.input_audio.format == "mp3" else f"audio/{part.input_audio.format}"
        return {"inlineData": {"mimeType": mime, "data": part.input_audio.data}}
    if part.type == "file" and part.file is not None:
        if part.file.file_data:
            blob = data_url(part.file.file_data, param)
            return {"inlineData": {"mimeType": blob.mime_type, "data": blob.data}}
        if part.file.file_id:
            return {"fileData": {"fileUri": part.file.file_id}}
    raise BadRequest(f"{param}: content part of type {part.type!r} is not supported.", param)


def data_url(url: str, param: str) -> Blob:
    """``data:image/png;base64,...`` -> Blob; anything else is the client's error."""
    head, sep, data = url.partition(",")
    if not (head.startswith("data:") and head.endswith(";base64") and sep):
        raise BadRequest(f"{param}: expected an http(s) URL or a base64 data URL.", param)
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{param}: the data URL is not valid base64.", param) from None
    return Blob(head[5:].removesuffix(";base64") or "application/octet-stream", data)


def _model_parts(message: ChatMessage, model: str, index: int) -> list[Body]:
    text = _text_of(message)
    parts: list[Body] = [{"text": text}] if text else []
    calls = [
        _function_call(c, f"messages[{index}].tool_calls[{i}]")
        for i, c in enumerate(message.tool_calls or [])
    ]
    if calls and model.startswith("gemini-3") and "thoughtSignature" not in calls[0]:
        # Gemini 3 refuses a function call turn without a signature; this history was not made
        # by Gemini (or lost it), which Google's documented placeholder stands for.
        calls[0]["thoughtSignature"] = toolids.SKIP_SIGNATURE
    return parts + calls


def _function_call(call: ToolCall, param: str) -> Body:
    try:
        args = orjson.loads(call.function.arguments) if call.function.arguments.strip() else {}
    except orjson.JSONDecodeError:
        raise BadRequest(f"{param}.function.arguments is not valid JSON.", param) from None
    if not isinstance(args, dict):
        raise BadRequest(f"{param}.function.arguments must be a JSON object.", param)
    part: Body = {"functionCall": {"name": call.function.name, "args": args}}
    signature = toolids.signature(call.id, call.extra_content)
    if signature:
        part["thoughtSignature"] = signature
    return part


def _tool_names(messages: list[ChatMessage]) -> dict[str, str]:
    return {c.id: c.function.name for m in messages for c in m.tool_calls or () if c.id}


def _function_response(message: ChatMessage, names: Mapping[str, str], index: int) -> Body:
    name = message.name or names.get(message.tool_call_id or "")
    if not name:
        param = f"messages[{index}].tool_call_id"
        raise BadRequest(f"{param} matches no tool call of an earlier assistant message.", param)
    text = _text_of(message)
    try:
        value: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = text
    response = value if isinstance(value, dict) else {"result": value}
    return {"functionResponse": {"name": name, "response": response}}


# ---- tools and generation settings


def _declaration(function: Any) -> Body:
    out: Body = {"name": function.name}
    if function.description:
        out["description"] = function.description
    if function.parameters:
        out["parametersJsonSchema"] = function.parameters
    return out


def _calling_config(request: ChatCompletionRequest) -> Body:
    choice = request.tool_choice
    if choice == "none":
        return {"mode": "NONE"}
    if choice == "required":
        return {"mode": "ANY"}
    if choice == "auto" or choice is None or isinstance(choice, str):
        return {"mode": "AUTO"}
    return {"mode": "ANY", "allowedFunctionNames": [choice.function.name]}


SAMPLING = {
    "temperature": "temperature",
    "top_p": "topP",
    "top_k": "topK",
    "n": "candidateCount",
    "seed": "seed",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}
EFFORT_BUDGETS = {"none": 0, "minimal": 1024, "low": 1024, "medium": 8192, "high": 24576}


def generation_config(request: ChatCompletionRequest, model: str, show_thinking: bool) -> Body:
    config: Body = {
        ours: getattr(request, theirs)
        for theirs, ours in SAMPLING.items()
        if getattr(request, theirs) is not None
    }
    limit = request.max_completion_tokens if request.max_completion_tokens is not None else request.max_tokens
    if limit is not None:
        config["maxOutputTokens"] = limit
    if request.stop:
        config["stopSequences"] = [request.stop] if isinstance(request.stop, str) else request.stop
    config.update(_response_format(request))
    config.update(_logprobs(request))
    if request.reasoning_effort:
        config["thinkingConfig"] = thinking_config(request.reasoning_effort, model, show_thinking)
    return config


def _logprobs(request: ChatCompletionRequest) -> Body:
    if request.top_logprobs is not None and not request.logprobs:
        raise BadRequest("top_logprobs requires logprobs to be true.", "top_logprobs")
    if not request.logprobs:
        return {}
    config: Body = {"responseLogprobs": True}
    if request.top_logprobs is not None:
        config["logprobs"] = request.top_logprobs
    return config


def _response_format(request: ChatCompletionRequest) -> Body:
    fmt = request.response_format
    if fmt is None or fmt.type == "text":
        return {}
    if fmt.type == "json_schema" and fmt.json_schema is not None and fmt.json_schema.schema_:
        return {"responseMimeType": "application/json", "responseJsonSchema": fmt.json_schema.schema_}
    return {"responseMimeType": "application/json"}


def thinking_config(effort: str, model: str, show_thinking: bool) -> Body:
    effort = effort.lower()
    if effort not in EFFORT_BUDGETS:
        raise BadRequest(
            f"reasoning_effort must be one of {', '.join(EFFORT_BUDGETS)}; got {effort!r}.",
            "reasoning_effort",
        )
    if model.startswith("gemini-3"):
        config: Body = {"thinkingLevel": "low" if effort in ("none", "minimal", "low") else "high"}
    elif effort == "none" and "2.5-pro" in model:
        config = {"thinkingBudget": 128}  # 2.5 Pro cannot stop thinking; this is its least
    else:
        config = {"thinkingBudget": EFFORT_BUDGETS[effort]}
    if show_thinking and effort != "none":
        config["includeThoughts"] = True
    return config
