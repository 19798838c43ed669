"""Wrong API tokens per client address on the model API, counted as the admin sign-in counts them.

Without it one address could try about 1,250 tokens a second, and (the admin token being refused
here, but recognisably) try admin tokens past the admin sign-in lockout. A right token costs
nothing: it is looked up in memory and never reaches Redis. Only a wrong one is counted
(:mod:`gempool.gateway.access.loginthrottle`, scope ``client``: in Redis across replicas with
``REDIS_URL``, else in this process). When an address has sent CLIENT_AUTH_MAX_FAILURES wrong tokens
within CLIENT_AUTH_WINDOW_SECONDS it is locked for a whole window; the replica that saw it remembers
the lock in memory and, as the admin lockout does, answers every request from that address with 429
before looking at its token, so a lucky guess tells nothing. Another replica learns of the lock at
the first wrong token it gets from that address (one Redis call), and locks it too.
"""

import logging
import math
import time
from itertools import islice

from starlette.responses import Response

from gempool.common.live import LiveSettings
from gempool.gateway.access.loginthrottle import LoginThrottle, address
from gempool.gateway.errors import Dialect, error_response
from gempool.gateway.metrics import GatewayMetrics

log = logging.getLogger(__name__)


ADMIN_REFUSED = (
    "The admin token (AUTH_TOKEN) is for the admin panel and admin API only. Call the model API with a "
    "team token: create one under Tokens in the admin panel, or list it in ALLOWED_TOKENS."
)


class ClientLockouts:
    """The count (``throttle``, shared or not) plus this replica's memory of the locks it has seen."""

    def __init__(self, throttle: LoginThrottle, metrics: GatewayMetrics, capacity: int = 100_000) -> None:
        self.throttle = throttle
        self._metrics = metrics
        self._capacity = capacity
        self._locked: dict[str, float] = {}  # counted unit (address or /64) -> monotonic end of its lock

    def locked_for(self, client: str) -> float:
        """Seconds ``client`` stays locked as far as this replica knows; memory only (every request)."""
        if not self._locked:
            return 0.0
        unit = address(client)
        until = self._locked.get(unit)
        if until is None:
            return 0.0
        left = until - time.monotonic()
        if left <= 0:
            del self._locked[unit]
            return 0.0
        return left

    async def failed(self, client: str, limit: int, window: float) -> float:
        """Count a wrong token from ``client``; seconds it is locked for (0: answer this one 401)."""
        attempt = await self.throttle.attempt(client, limit, window)
        if attempt.locked_for > 0:  # locked already (another replica, or an earlier window)
            self._lock(client, attempt.locked_for)
            return attempt.locked_for
        if attempt.failures >= limit:  # this one reached the limit: it was checked, the next is not
            self._lock(client, window)
            self._metrics.client_auth_lockouts.inc()
            extra = {"client": client, "failures": attempt.failures, "seconds": window}
            log.warning("model API locked for a client address after wrong tokens", extra=extra)
        return 0.0

    async def refuse(self, settings: LiveSettings, client: str, dialect: Dialect, *, admin: bool) -> Response:
        """The answer to a wrong token (``admin``: the admin token), counted against ``client``."""
        limit, window = settings.CLIENT_AUTH_MAX_FAILURES, settings.CLIENT_AUTH_WINDOW_SECONDS
        locked = await self.failed(client, limit, window)
        if locked > 0:
            self._metrics.refused.labels("locked_out").inc()
            return locked_out(dialect, locked)
        self._metrics.refused.labels("admin_token" if admin else "invalid_token").inc()
        if admin:
            return error_response(dialect, 403, ADMIN_REFUSED)
        return error_response(dialect, 401, "The API token is not valid for this gateway.")

    def _lock(self, client: str, seconds: float) -> None:
        now = time.monotonic()
        self._locked[address(client)] = now + seconds
        if len(self._locked) > self._capacity:
            self._locked = {k: v for k, v in self._locked.items() if v > now}
            if len(self._locked) > self._capacity:  # still full: the oldest half goes
                for unit in list(islice(self._locked, len(self._locked) // 2)):
                    del self._locked[unit]


def locked_out(dialect: Dialect, seconds: float) -> Response:
    """429 with Retry-After, in the caller's dialect."""
    wait = max(1, math.ceil(seconds))
    message = (
        f"Too many requests with a wrong API token came from your address: it is locked out of the API "
        f"for {wait} more seconds. Check the token your client sends."
    )
    return error_response(dialect, 429, message, headers={"retry-after": str(wait)})
