"""The one scrubber for secrets in text that leaves a process.

Google echoes a key in some errors (a suspended key's 403 reads ``Consumer 'api_key:AIza...' has
been suspended.``), so any upstream error text may hold a whole key. Every exit (client error
bodies, stream error events, stored key reasons, error logs, probe results, log lines) passes its
text through here first. Each secret is replaced by its masked form (``AIza...x9Qk``, see
:func:`gempool.common.keys.mask`), so an operator still recognises the key.

Shapes scrubbed even when the key is not known to the caller:

- Google API keys: ``AIza`` + URL-safe base64 characters (39 in all; shorter runs are scrubbed
  too, so a key cut by a truncated message does not slip through);
- Google's newer keys (Gemini and Vertex AI express mode keys bound to a service account):
  ``AQ.`` + URL-safe base64 characters (50 after the dot in the keys seen so far).

Only error paths call this (never successful answers), so its cost stays off the hot path.
"""

import re
from collections.abc import Iterable

from gempool.common.keys import mask

_SHAPE = r"AIza[0-9A-Za-z_\-]{20,}|AQ\.[0-9A-Za-z_\-]{40,}"
_TEXT = re.compile(_SHAPE)
_BYTES = re.compile(_SHAPE.encode())
# Leased keys shorter than this are test names or junk; replacing them would mangle ordinary words.
MIN_SECRET = 8


def _secrets(secrets: Iterable[str]) -> list[str]:
    # Longest first, so a secret that contains another is replaced whole.
    return sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True)


def scrub(text: str, *secrets: str) -> str:
    """``text`` with each of ``secrets`` and anything shaped like a Google key masked."""
    for secret in _secrets(secrets):
        if secret in text:
            text = text.replace(secret, mask(secret))
    if "AIza" not in text and "AQ." not in text:
        return text
    return _TEXT.sub(lambda m: mask(m.group()), text)


def scrub_bytes(body: bytes, *secrets: str) -> bytes:
    """:func:`scrub` for a raw body (an upstream error answer), without decoding it."""
    for secret in _secrets(secrets):
        raw = secret.encode()
        if raw in body:
            body = body.replace(raw, mask(secret).encode())
    if b"AIza" not in body and b"AQ." not in body:
        return body
    return _BYTES.sub(lambda m: mask(m.group().decode()).encode(), body)
