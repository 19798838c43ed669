"""Telling an empty first event from a real one, in both stream framings."""

import orjson

from gempool.gateway.pipeline import events

TEXT = {"candidates": [{"content": {"parts": [{"text": "hi"}], "role": "model"}}]}
EMPTY = {"candidates": [{"content": {"parts": [], "role": "model"}, "finishReason": "OTHER"}]}
BLOCKED = {"promptFeedback": {"blockReason": "SAFETY"}}


def test_has_content() -> None:
    assert events.has_content(TEXT)
    assert not events.has_content(EMPTY)
    assert not events.has_content(BLOCKED)
    assert not events.has_content([TEXT])


def test_sse_first_event_waits_for_the_separator() -> None:
    frame = b"data: " + orjson.dumps(TEXT)
    assert events.sse_first_event(frame) is None
    assert events.sse_first_event(frame + b"\r\n") is None
    raw, parsed = events.sse_first_event(frame + b"\r\n\r\ndata: {") or (b"", None)
    assert raw == frame and parsed == TEXT
    assert events.sse_first_event(frame + b"\n\n") == (frame, TEXT)


def test_json_array_first_object_respects_strings() -> None:
    tricky = {"candidates": [{"content": {"parts": [{"text": 'a } { "quoted" \\ end'}]}}]}
    data = b"[" + orjson.dumps(tricky) + b",\r\n" + orjson.dumps(TEXT) + b"]"
    for cut in range(len(data)):
        found = events.json_array_first_object(data[:cut])
        assert found is None or found[1] == tricky
    assert events.json_array_first_object(data) == (orjson.dumps(tricky), tricky)


def test_body_has_content_leaves_non_json_alone() -> None:
    assert events.body_has_content(b"not json")
    assert not events.body_has_content(orjson.dumps(EMPTY))
