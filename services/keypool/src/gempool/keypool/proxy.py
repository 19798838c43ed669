"""Which outbound proxy a key leaves through."""

import hashlib
import random
from functools import lru_cache


def choose_proxy(key_id: str, proxies: tuple[str, ...], consistent: bool) -> str:
    """Empty without proxies; the key's own proxy when ``consistent``; otherwise any."""
    if not proxies:
        return ""
    if consistent:
        return _rendezvous(key_id, proxies)
    return random.choice(proxies)


@lru_cache(maxsize=65536)
def _rendezvous(key_id: str, proxies: tuple[str, ...]) -> str:
    """Highest-random-weight hashing: removing a proxy moves only the keys that used it."""
    return max(proxies, key=lambda proxy: hashlib.sha256(f"{proxy}|{key_id}".encode()).digest())
