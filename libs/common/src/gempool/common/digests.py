"""Token digests: what gempool stores and compares instead of a token.

The admin token (``AUTH_TOKEN``) and the ``ALLOWED_TOKENS`` list are kept as ``sha256:<hex>``:
the gateway only ever needs to recognise a token, never to show or send it, so no table, history
row, export or settings snapshot holds one in plaintext. A plaintext value (from the environment,
the panel or an old database) becomes its digest when it is validated; a value already in digest
form stays as it is, so an export imports unchanged. SHA-256 without salt is enough for long
random tokens; it does not make a short, guessable one safe, so the digest of a short admin token
says so (``sha256-short:``) and the panel keeps advising a longer one.
"""

import hashlib
import re

PREFIX = "sha256:"
SHORT_PREFIX = "sha256-short:"
SHORT_TOKEN = 16  # an admin token shorter than this is advised against
_DIGEST = re.compile(r"sha256(-short)?:[0-9a-f]{64}")


def is_digest(value: str) -> bool:
    return _DIGEST.fullmatch(value) is not None


def digest_of(token: str, *, note_short: bool = False) -> str:
    prefix = SHORT_PREFIX if note_short and len(token) < SHORT_TOKEN else PREFIX
    return prefix + hashlib.sha256(token.encode()).hexdigest()


def stored_form(value: str, *, note_short: bool = False) -> str:
    """The digest to store for ``value``: itself when it is one already; empty stays empty."""
    if not value or is_digest(value):
        return value
    return digest_of(value, note_short=note_short)


def digest_bytes(value: str) -> bytes:
    """The raw SHA-256 a stored value (digest or plaintext) stands for."""
    return bytes.fromhex(stored_form(value).rpartition(":")[2])


def is_short(value: str) -> bool:
    return value.startswith(SHORT_PREFIX)


def shown(value: str) -> str:
    """A digest as the panel may show it: enough to tell entries apart, nothing to log in with."""
    return value[: value.index(":") + 9] + "…" if is_digest(value) else value
