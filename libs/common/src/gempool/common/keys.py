"""Key identity and masking: the only ways a key may appear outside the key store."""

import hashlib


def key_id(api_key: str) -> str:
    """A stable, non-reversible fingerprint of a key; safe in logs, metrics and Redis names."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def mask(secret: str) -> str:
    """``AIzaSyAbc...x9Qk`` -> ``AIza...x9Qk``; short secrets show only their length."""
    if len(secret) <= 12:
        return f"***({len(secret)})"
    return f"{secret[:4]}...{secret[-4:]}"
