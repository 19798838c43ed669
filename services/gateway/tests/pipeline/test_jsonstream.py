"""Google's JSON-array stream split into its objects, whatever the chunking; no byte changed."""

import orjson
import pytest

from gempool.gateway.pipeline.jsonstream import ArrayObjects

TRICKY = {"candidates": [{"content": {"parts": [{"text": 'a "}{[" \\" \\\\ ] {'}]}}], "n": [1, [2, {}]]}
STREAM = b"[" + orjson.dumps(TRICKY) + b"\n,\r\n" + orjson.dumps({"b": "\\\\"}) + b"\n,\r\n{}\n]"


def split(stream: bytes, size: int) -> list[tuple[bytes, bool]]:
    objects = ArrayObjects()
    out: list[tuple[bytes, bool]] = []
    for i in range(0, len(stream), size):
        out += objects.feed(stream[i : i + size])
    rest = objects.rest()
    return out + ([(rest, False)] if rest else [])


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, len(STREAM)])
def test_objects_come_whole_and_every_byte_in_order(size: int) -> None:
    pieces = split(STREAM, size)
    assert b"".join(p for p, _ in pieces) == STREAM
    objects = [orjson.loads(p) for p, is_object in pieces if is_object]
    assert objects == [TRICKY, {"b": "\\\\"}, {}]
    assert all(not p.strip(b"[],\r\n") for p, is_object in pieces if not is_object)


def test_between_objects_nothing_is_held_back() -> None:
    objects = ArrayObjects()
    assert objects.feed(b'[{"a": 1}') == [(b"[", False), (b'{"a": 1}', True)]
    assert objects.feed(b"\n,\r\n") == [(b"\n,\r\n", False)]
    assert objects.feed(b'{"b": "x') == []  # an unfinished object waits
    assert objects.feed(b'\\"') == []  # an escaped quote does not end the string
    assert objects.feed(b'"}\n]') == [(b'{"b": "x\\""}', True), (b"\n]", False)]
    assert objects.rest() == b""


def test_an_object_left_unfinished_comes_back_at_the_end() -> None:
    objects = ArrayObjects()
    assert objects.feed(b'[{"a": "b\\') == [(b"[", False)]
    assert objects.rest() == b'{"a": "b\\'
