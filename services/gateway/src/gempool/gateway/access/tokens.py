"""Who is calling: the team token records, the ALLOWED_TOKENS list and the admin token (recognised
only to be refused with a message that says to use a team token).

``authorize()`` finds the caller once per request and leaves it in :data:`CALLER`, where
``forward()`` reads it for the token's limits (models, requests per minute) and for the logs.
"""

import fnmatch
import hashlib
import math
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass

from starlette.responses import Response

from gempool.api.config.v1 import config_pb2
from gempool.common.digests import digest_bytes
from gempool.gateway.access.ratelimit import RateLimiter
from gempool.gateway.errors import Dialect, error_response


@dataclass(frozen=True)
class Caller:
    name: str  # shown in logs and stats: the record's name, "allowed:<masked>", "admin"
    limit_key: str  # identity for the rate limit, stable across replicas
    enabled: bool = True
    models: tuple[str, ...] = ()  # shell patterns; empty: every model
    rpm: int = 0  # 0: no limit
    key_tag: str = ""  # only keys with this tag serve the token; empty: any

    def may_use(self, model: str) -> bool:
        name = model.removeprefix("models/")
        return not self.models or not name or any(fnmatch.fnmatchcase(name, p) for p in self.models)


ANONYMOUS = Caller("", "")
ADMIN = Caller("admin", "admin", enabled=False)  # the admin token: recognised, to be told it is refused
CALLER: ContextVar[Caller] = ContextVar("gempool_caller", default=ANONYMOUS)


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class Callers:
    """Every accepted token by its SHA-256; a record wins over the same secret in ALLOWED_TOKENS.

    ALLOWED_TOKENS and the admin token come as the digests the settings store (plaintext is
    hashed too), so an ALLOWED_TOKENS caller is named by its digest's first characters."""

    def __init__(
        self, records: Iterable[config_pb2.ClientToken], allowed: Iterable[str] = (), admin: str = ""
    ) -> None:
        self._by_digest: dict[bytes, Caller] = {}
        for listed in allowed:  # digests, as the settings hold them
            if listed:
                name = f"allowed:{digest_bytes(listed).hex()[:8]}"
                self._by_digest[digest_bytes(listed)] = Caller(name, name)
        if admin:
            self._by_digest[digest_bytes(admin)] = ADMIN
        for record in records:
            caller = Caller(
                record.name,
                f"token:{record.id}",
                record.enabled,
                tuple(record.allowed_models),
                record.rpm_limit,
                record.key_tag,
            )
            self._by_digest[bytes.fromhex(record.digest)] = caller

    def __len__(self) -> int:
        return len(self._by_digest)

    def find(self, token: str) -> Caller | None:
        """A lookup by digest: its timing tells nothing about any secret (as auth.TokenSet)."""
        return self._by_digest.get(digest(token)) if token else None


async def admit(limiter: RateLimiter, caller: Caller, dialect: Dialect, model: str) -> Response | None:
    """None when the caller may go on; else the 403 (model) or 429 (rate) to send."""
    if not caller.may_use(model):
        message = f"The token {caller.name!r} may not use the model {model!r}."
        return error_response(dialect, 403, message)
    if caller.rpm <= 0:
        return None
    wait = await limiter.hit(caller.limit_key, caller.rpm)
    if wait <= 0:
        return None
    seconds = max(1, math.ceil(wait))
    message = (
        f"The token {caller.name!r} is over its limit of {caller.rpm} requests per minute; "
        f"retry in {seconds}s."
    )
    return error_response(dialect, 429, message, headers={"retry-after": str(seconds)})
