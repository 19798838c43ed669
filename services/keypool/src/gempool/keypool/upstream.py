"""Pure policy: is the way to the upstream (direct, or through one proxy) down?

A connection refused, a timeout or a proxy's 502 says nothing about the key that was used: every
key fails the same way until the route is back. So such failures are counted per route, never per
key; after MAX_FAILURES of them in a row the route is down, and a request that fails on it is
answered at once (an honest 502) instead of burning through every key. Any answer Google itself
gave (even an error) shows the route works again.
"""

import enum
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from gempool.api.keypool.v1 import keypool_pb2 as pb
from gempool.common.googleerror import parse_error

from .classify import Outcome

DIRECT = "direct"
# Successes reported this soon after a route went down are late reports of attempts that began
# before (successes travel in batches): they do not bring the route back.
SETTLE_SECONDS = 1.0


class Change(enum.Enum):
    DOWN = "down"
    UP = "up"


def route_fault(outcome: Outcome) -> bool | None:
    """True: the route failed (nobody's key); False: Google answered; None: the outcome says neither."""
    if outcome.transport == pb.TRANSPORT_CLIENT_GONE:
        return None
    if outcome.transport in (pb.TRANSPORT_TIMEOUT, pb.TRANSPORT_CONNECT_ERROR):
        return True
    if outcome.http_status == 0 or outcome.http_status >= 500:
        # Google's 5xx carry its error JSON; a proxy's or a load balancer's do not.
        return parse_error(outcome.error_body) is None
    return False


def route_name(proxy: str) -> str:
    """A bounded, secret-free name for a route: "direct" or the proxy's scheme://host:port."""
    if not proxy:
        return DIRECT
    parts = urlsplit(proxy)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}:{parts.port}" if parts.port else f"{parts.scheme}://{host}"


@dataclass(slots=True)
class _Route:
    failures: int = 0
    down_since: float = 0.0


@dataclass
class UpstreamHealth:
    """Consecutive route failures per route; only routes that failed lately are held."""

    routes: dict[str, _Route] = field(default_factory=dict)

    def failed(self, route: str, now: float, threshold: int) -> Change | None:
        """One more failure in a row; DOWN when it reaches ``threshold``."""
        state = self.routes.setdefault(route, _Route())
        state.failures += 1
        if not state.down_since and state.failures >= threshold:
            state.down_since = now
            return Change.DOWN
        return None

    def answered(self, route: str, now: float) -> tuple[Change, float] | None:
        """Google answered through ``route``: (UP, when it went down) if it was down."""
        state = self.routes.get(route)
        if state is None or (state.down_since and now - state.down_since < SETTLE_SECONDS):
            return None
        del self.routes[route]
        return (Change.UP, state.down_since) if state.down_since else None

    def is_down(self, route: str) -> bool:
        state = self.routes.get(route)
        return state is not None and state.down_since > 0
