"""Reading the first event of an upstream answer, to tell an empty answer from a real one."""

from typing import Any

import orjson


def has_content(answer: Any) -> bool:
    """True when a generateContent answer (or stream event) carries at least one part."""
    if not isinstance(answer, dict):
        return False
    for candidate in answer.get("candidates") or ():
        if isinstance(candidate, dict) and ((candidate.get("content") or {}).get("parts")):
            return True
    return False


def body_has_content(body: bytes) -> bool:
    try:
        return has_content(orjson.loads(body))
    except orjson.JSONDecodeError:
        return True  # not ours to judge: pass it on


def sse_first_event(buffer: bytes) -> tuple[bytes, Any] | None:
    """``(raw event, parsed data)`` once the buffer holds a whole SSE event, else None."""
    ends = [i for i in (buffer.find(b"\r\n\r\n"), buffer.find(b"\n\n")) if i >= 0]
    if not ends:
        return None
    raw = buffer[: min(ends)]
    data = b"".join(
        line[5:].lstrip() for line in raw.replace(b"\r\n", b"\n").split(b"\n") if line.startswith(b"data:")
    )
    try:
        return raw, orjson.loads(data) if data else None
    except orjson.JSONDecodeError:
        return raw, None


def json_array_first_object(buffer: bytes) -> tuple[bytes, Any] | None:
    """``(raw object, parsed)`` once the buffer holds the first whole object of a JSON array stream."""
    start = buffer.find(b"{")
    if start < 0:
        return None
    depth, in_string, escaped = 0, False, False
    for index in range(start, len(buffer)):
        byte = buffer[index]
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte == 0x7B:
            depth += 1
        elif byte == 0x7D:
            depth -= 1
            if depth == 0:
                raw = buffer[start : index + 1]
                try:
                    return raw, orjson.loads(raw)
                except orjson.JSONDecodeError:
                    return raw, None
    return None
