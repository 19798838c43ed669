"""FILES_USER_ISOLATION_ENABLED for prompts: a request may name only files its own token uploaded.

Listing, get and delete already keep to the caller's files; without this, a prompt naming another
team's ``fileUri`` was routed to the key holding that file and answered. Every route that passes a
body naming files upstream (native and Vertex model calls, the OpenAI endpoints, Google's
OpenAI-compatible passthrough) asks here first, before any key is leased.
"""

from starlette.requests import Request
from starlette.responses import Response

from gempool.gateway.errors import Dialect
from gempool.gateway.native.files.api import no_access, owner_of
from gempool.gateway.native.files.store import store
from gempool.gateway.runtime import Live, Runtime


def refused(rt: Runtime, live: Live, request: Request, body: bytes, dialect: Dialect) -> Response | None:
    """Google's 403 for a file that is not the caller's, in the caller's dialect; None when allowed."""
    if not live.settings.FILES_USER_ISOLATION_ENABLED:
        return None
    name = store(rt).refused(body, owner_of(request))
    return None if name is None else no_access(name.removeprefix("files/"), dialect)
