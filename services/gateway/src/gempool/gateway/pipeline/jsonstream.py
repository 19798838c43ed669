"""Google's JSON-array stream (``streamGenerateContent`` without ``alt=sse``), split into its objects.

The stream is one JSON array written a piece at a time: ``[{...}\\n,\\r\\n{...}\\n]``. The splitter
hands back every byte it is fed, in order and unchanged, cut into the array's top-level objects
(each whole, however the network split it) and the bytes between them. It skips from one quote,
brace or bracket to the next, so long strings (inline images) cost little.
"""

import re

_OUTSIDE = re.compile(rb'["{}\[\]]')
_INSIDE = re.compile(rb'["\\]')  # in a string: its end, or an escape


class ArrayObjects:
    """Feed it chunks; get ``(bytes, is_object)`` pieces back as soon as they are whole."""

    def __init__(self) -> None:
        self.buffer = b""  # bytes not handed back yet: an unfinished object
        self.scanned = 0  # how far into ``buffer`` the scan has gone
        self.depth = 0  # brackets and braces open; the array itself is depth 1
        self.in_string = False

    def feed(self, chunk: bytes) -> list[tuple[bytes, bool]]:
        buf = self.buffer + chunk
        out: list[tuple[bytes, bool]] = []
        start, i = 0, self.scanned  # start: first byte not handed back
        while i < len(buf):
            if self.in_string:
                found = _INSIDE.search(buf, i)
                if found is None or found.end() == len(buf) and found.group() == b"\\":
                    i = len(buf) if found is None else found.start()  # an escape needs its next byte
                    break
                self.in_string = found.group() != b'"'
                i = found.end() + (1 if self.in_string else 0)
                continue
            found = _OUTSIDE.search(buf, i)
            if found is None:
                i = len(buf)
                break
            token, i = found.group(), found.end()
            if token == b'"':
                self.in_string = True
            elif token in (b"{", b"["):
                if self.depth == 1 and token == b"{" and found.start() > start:
                    out.append((buf[start : found.start()], False))
                    start = found.start()
                self.depth += 1
            else:
                self.depth -= 1
                if self.depth == 1 and token == b"}":
                    out.append((buf[start:i], True))
                    start = i
        if self.depth <= 1 and start < i:  # between objects: nothing to wait for
            out.append((buf[start:i], False))
            start = i
        self.buffer, self.scanned = buf[start:], i - start
        return out

    def rest(self) -> bytes:
        """Whatever is left when the stream ends (an object the upstream never finished)."""
        rest, self.buffer, self.scanned = self.buffer, b"", 0
        return rest
