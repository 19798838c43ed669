"""Gemini SSE events -> OpenAI ``chat.completion.chunk`` events, one upstream event at a time (pure).

OpenAI's framing: ``data: {json}\\n\\n`` per chunk, a role delta first for each choice, tool calls as
``delta.tool_calls`` (id and name first, then the arguments), a chunk with ``finish_reason``, the
usage chunk (``choices: []``) when asked for, and ``data: [DONE]`` last.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from gempool.common.scrub import scrub
from gempool.gateway.openai.answers import (
    View,
    candidates,
    finish_reason,
    function_call,
    read_parts,
    sources,
    token_logprobs,
    usage,
)

Body = dict[str, Any]
DONE = b"data: [DONE]\n\n"


class SseReader:
    """Splits a byte stream into the JSON data of its server-sent events."""

    def __init__(self) -> None:
        self.buffer = b""

    def feed(self, chunk: bytes) -> list[Any]:
        self.buffer += chunk
        out: list[Any] = []
        while True:
            cut = _event_end(self.buffer)
            if cut is None:
                return out
            raw, self.buffer = self.buffer[: cut[0]], self.buffer[cut[1] :]
            event = _data(raw)
            if event is not None:
                out.append(event)

    def close(self) -> list[Any]:
        raw, self.buffer = self.buffer, b""
        event = _data(raw)
        return [event] if event is not None else []


def _event_end(buffer: bytes) -> tuple[int, int] | None:
    ends = [(i, i + len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if (i := buffer.find(sep)) >= 0]
    return min(ends) if ends else None


def _data(raw: bytes) -> Any:
    lines = raw.replace(b"\r\n", b"\n").split(b"\n")
    data = b"".join(line[5:].lstrip() for line in lines if line.startswith(b"data:"))
    if not data:
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def frame(payload: Body) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


@dataclass
class _Choice:
    calls: int = 0
    finished: bool = False
    sources: str = ""  # the latest grounding sources seen, said once the choice finishes
    sourced: bool = False


@dataclass
class ChunkWriter:
    """Turns each Gemini stream event into the OpenAI chunks it stands for."""

    view: View
    choices: dict[int, _Choice] = field(default_factory=dict)
    last_usage: Body | None = None
    failed: bool = False

    def chunk(
        self, index: int, delta: Body, finish: str | None = None, tokens: list[Body] | None = None
    ) -> bytes:
        logprobs = {"content": tokens, "refusal": None} if tokens is not None else None
        choice = {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        return frame(self._envelope([choice]))

    def _envelope(self, choices: list[Body]) -> Body:
        view = self.view
        return {
            "id": view.id,
            "object": "chat.completion.chunk",
            "created": view.created,
            "model": view.model,
            "choices": choices,
        }

    def event(self, answer: Any, links: Mapping[str, str]) -> list[bytes]:
        if not isinstance(answer, dict):
            return []
        if isinstance(answer.get("error"), dict):
            return [self.error(str(answer["error"].get("message", "upstream error")))]
        self.last_usage = usage(answer) or self.last_usage
        out: list[bytes] = []
        for index, candidate in candidates(answer):
            out += self._candidate(index, candidate, links)
        if not self.choices and (answer.get("promptFeedback") or {}).get("blockReason"):
            out += self._opened(0) + [self.chunk(0, {}, "content_filter")]
            self.choices[0].finished = True
        return out

    def _opened(self, index: int) -> list[bytes]:
        if index in self.choices:
            return []
        self.choices[index] = _Choice()
        return [self.chunk(index, {"role": "assistant", "content": ""})]

    def _candidate(self, index: int, candidate: Body, links: Mapping[str, str]) -> list[bytes]:
        out = self._opened(index)
        choice = self.choices[index]
        said = read_parts((candidate.get("content") or {}).get("parts") or [], links, self.view)
        reason = candidate.get("finishReason")
        text = said.content + self._sources(choice, candidate, bool(reason))
        # This event's tokens ride on its text chunk (or on a chunk of their own without text).
        tokens = token_logprobs(candidate) if self.view.logprobs else None
        if said.reasoning:
            out.append(self.chunk(index, {"reasoning_content": said.reasoning}))
        if text or tokens:
            out.append(self.chunk(index, {"content": text} if text else {}, tokens=tokens))
        for call in said.calls:
            out += self._tool_call(index, choice, call)
        if reason and not choice.finished:
            choice.finished = True
            legacy = self.view.legacy_functions
            out.append(self.chunk(index, {}, finish_reason(reason, choice.calls > 0, legacy)))
        return out

    def _sources(self, choice: _Choice, candidate: Body, finishing: bool) -> str:
        """The sources text, once per choice: with its finish, or when grounding comes after it."""
        if not self.view.show_search_link or choice.sourced:
            return ""
        choice.sources = sources(candidate) or choice.sources
        if not (finishing or choice.finished) or not choice.sources:
            return ""
        choice.sourced = True
        return choice.sources

    def _tool_call(self, index: int, choice: _Choice, call: Body) -> list[bytes]:
        if self.view.legacy_functions:
            return self._function_call(index, choice, call)
        head = {k: v for k, v in call.items() if k != "function"}
        head["function"] = {"name": call["function"]["name"], "arguments": ""}
        position = choice.calls
        choice.calls += 1
        arguments = {"index": position, "function": {"arguments": call["function"]["arguments"]}}
        return [
            self.chunk(index, {"tool_calls": [{"index": position, **head}]}),
            self.chunk(index, {"tool_calls": [arguments]}),
        ]

    def _function_call(self, index: int, choice: _Choice, call: Body) -> list[bytes]:
        """The deprecated shape: one call per choice, its name first, then its arguments."""
        if choice.calls:
            return []
        choice.calls = 1
        head = function_call(call) | {"arguments": ""}
        arguments = {"arguments": call["function"]["arguments"]}
        return [self.chunk(index, {"function_call": head}), self.chunk(index, {"function_call": arguments})]

    def error(self, message: str) -> bytes:
        self.failed = True
        message = scrub(message)  # an error event inside a 200 stream was never scrubbed before
        return frame({"error": {"message": message, "type": "api_error", "param": None, "code": None}})

    def end(self) -> list[bytes]:
        out = []
        if not self.failed and not (self.choices and all(c.finished for c in self.choices.values())):
            out.append(self.error("The upstream stream ended before the answer was complete."))
        if self.view.include_usage and self.last_usage is not None and not self.failed:
            usage_chunk = self._envelope([]) | {"usage": self.last_usage}
            out.append(frame(usage_chunk))
        return [*out, DONE]
