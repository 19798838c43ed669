"""Client authentication: which of our tokens a request carries, compared in constant time."""

import hashlib
import hmac
from collections.abc import Iterable

from starlette.requests import Request

from gempool.common.digests import digest_bytes


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenSet:
    """Allowed tokens held as SHA-256 digests (as the settings store them, or plaintext, which is
    hashed here): lookups reveal nothing through timing."""

    def __init__(self, tokens: Iterable[str]) -> None:
        self._digests = {digest_bytes(t) for t in tokens if t}

    def __len__(self) -> int:
        return len(self._digests)

    def check(self, candidate: str) -> bool:
        digest = _digest(candidate)
        return any(hmac.compare_digest(known, digest) for known in self._digests)


def presented_token(request: Request) -> tuple[str, str]:
    """The token a client sent and how: ``(token, "gemini"|"bearer"|"")``.

    Gemini clients send ``x-goog-api-key`` or ``?key=``; OpenAI clients ``Authorization: Bearer``.
    """
    headers = request.headers
    goog = headers.get("x-goog-api-key")
    if goog:
        return goog, "gemini"
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), "bearer"
    key = request.query_params.get("key")
    if key:
        return key, "gemini"
    return "", ""


def client_of(request: Request) -> str:
    """The peer's address: X-Forwarded-For's client only when the peer is a proxy named in the
    gateway's FORWARDED_ALLOW_IPS (default: none), so a client cannot choose its own."""
    return request.client.host if request.client else "unknown"
