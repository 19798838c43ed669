"""OpenAI's deprecated function calling, mapped to the tools it stands for at the request boundary.

``functions`` and ``function_call`` are the old ``tools`` and ``tool_choice``; an assistant message's
``function_call`` is a tool call without an id, and a ``role: "function"`` message its result,
matched by name (by the last call before it when the name is missing). After ``modern`` the
translation knows only tools; ``asked`` says whether the answer must be shaped the old way
(``message.function_call``, ``finish_reason: "function_call"``).

A thought signature cannot ride in an id here: it goes out as ``function_call.extra_content`` (the
field Google's OpenAI endpoint uses on tool calls) and is read back from there; a history without it
gets Google's documented placeholder on Gemini 3, as for tool calls.
"""

from typing import Any

from gempool.gateway.openai.chat import BadRequest
from gempool.gateway.openai.schemas import (
    ChatCompletionRequest,
    ChatMessage,
    NamedToolChoice,
    Tool,
    ToolCall,
)


def asked(request: ChatCompletionRequest) -> bool:
    """Whether the client used the deprecated fields, and so wants answers in their shape."""
    return request.functions is not None or request.function_call is not None


def modern(request: ChatCompletionRequest) -> ChatCompletionRequest:
    """The same request with tools, tool_choice, tool calls and tool messages only."""
    update: dict[str, Any] = {}
    if asked(request):
        for old, new, sent in (
            ("functions", "tools", request.functions is not None and request.tools is not None),
            (
                "function_call",
                "tool_choice",
                request.function_call is not None and request.tool_choice is not None,
            ),
        ):
            if sent:
                message = f"{old} is the deprecated form of {new}; send one or the other, not both."
                raise BadRequest(message, old)
        if request.functions:
            update["tools"] = [Tool(type="function", function=f) for f in request.functions]
        choice = request.function_call
        if choice is not None:
            update["tool_choice"] = choice if isinstance(choice, str) else NamedToolChoice(function=choice)
        update["functions"] = update["function_call"] = None
    if any(m.function_call is not None or m.role == "function" for m in request.messages):
        update["messages"] = _messages(request.messages)
    return request.model_copy(update=update) if update else request


def _messages(messages: list[ChatMessage]) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    last_call = ""
    for index, message in enumerate(messages):
        call = message.function_call
        if call is not None:
            last_call = call.name
            extra = (call.model_extra or {}).get("extra_content")
            tool_call = ToolCall(
                id="",
                function=call,
                extra_content=extra if isinstance(extra, dict) else None,
            )
            calls = [*(message.tool_calls or ()), tool_call]
            message = message.model_copy(update={"tool_calls": calls, "function_call": None})
        elif message.role == "function":
            name = message.name or last_call
            if not name:
                param = f"messages[{index}].name"
                raise BadRequest(f"{param} is required: the function whose result this is.", param)
            message = message.model_copy(update={"role": "tool", "name": name})
        out.append(message)
    return out
