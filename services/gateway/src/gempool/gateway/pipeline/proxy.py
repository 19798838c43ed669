"""One client request, many upstream attempts: lease a key, call, report, retry or answer.

This is the only path any dialect takes to the upstream, so retries, key choice and accounting
behave the same for every API gempool speaks.
"""

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field

from starlette.responses import Response, StreamingResponse

from gempool.api.keypool.v1 import keypool_pb2 as kp
from gempool.common.keys import mask
from gempool.gateway.access.tokens import CALLER, admit
from gempool.gateway.errors import Dialect, error_response
from gempool.gateway.logs.ship import TAIL, Trace
from gempool.gateway.paths import clean, unclean
from gempool.gateway.pipeline.adapter import PASSTHROUGH, Adapter
from gempool.gateway.pipeline.attempt import Outcome, attempt
from gempool.gateway.pipeline.poolclient import PoolUnavailable
from gempool.gateway.pipeline.streamend import logged_stream
from gempool.gateway.runtime import Live, Runtime
from gempool.gateway.shutdown import is_stop

log = logging.getLogger(__name__)

LEASE_TIMEOUT = 5.0
STOPPED = (
    "This gempool gateway is restarting and its shutdown grace ran out before the upstream answered. "
    "Send the request again."
)


@dataclass
class Call:
    """What the client asked for, in upstream terms."""

    dialect: Dialect
    route: str
    model: str
    path: str  # upstream path below the API root, e.g. /v1beta/models/m:generateContent
    body: bytes = b""
    http_method: str = "POST"
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    stream: bool = False
    sse: bool = False
    check_empty: bool = False
    pool: int = kp.POOL_UNSPECIFIED
    adapter: Adapter = PASSTHROUGH
    want_key_id: str = ""  # every attempt uses this key (the one that holds a file); empty: any key
    keep_headers: tuple[str, ...] = ()  # upstream answer headers the client gets too
    served_by: str = ""  # set by forward(): the key_id that answered
    root: str = ""  # upstream API root when not BASE_URL's (Vertex express)
    bearer: bool = False  # key as Authorization: Bearer, not x-goog-api-key (Google's OpenAI endpoint)


async def forward(rt: Runtime, live: Live, call: Call) -> Response:
    if not clean(call.path):  # routes validate their segments; this holds for any route that forgot
        log.warning("refused an upstream path", extra={"route": call.route, "path": call.path[:200]})
        return unclean(call.dialect)
    started = time.perf_counter()
    trace = Trace(CALLER.get())  # the caller authorize() found
    response = await admit(rt.limiter, trace.caller, call.dialect, call.model)
    if response is None:
        response = await _until_stopped(rt, live, call, trace, started)
    _observe(rt, call, response, started, trace)
    return response


async def _until_stopped(rt: Runtime, live: Live, call: Call, trace: Trace, started: float) -> Response:
    """The attempts, unless the gateway's shutdown grace runs out first: then a 503 that says so.
    Cancelled otherwise (the caller gave up), the request is still logged, as 499."""
    task = rt.drain.track()
    try:
        return await _attempts(rt, live, call, trace)
    except asyncio.CancelledError as exc:
        if not is_stop(exc) or task is None:
            elapsed = time.perf_counter() - started
            rt.logs.request(call, trace, 499, elapsed, elapsed, b"")
            raise
        task.uncancel()
        rt.drain.ended.labels("request").inc()
        return error_response(call.dialect, 503, STOPPED, headers={"retry-after": "1"})
    finally:
        rt.drain.untrack(task)


async def _attempts(rt: Runtime, live: Live, call: Call, trace: Trace) -> Response:
    """Try keys until one answers, the failure is the client's, or MAX_RETRIES is spent."""
    last: Outcome | None = None
    for _ in range(live.settings.MAX_RETRIES + 1):
        lease = await _lease(rt, live, call, trace)
        if isinstance(lease, Response):
            return _when_exhausted(call, lease, last)
        trace.tried.append(lease.key_id)
        trace.use(lease.api_key)
        outcome = await attempt(rt, live, call, lease)
        if outcome.response is not None:
            call.served_by = lease.key_id
            return outcome.response
        rt.logs.upstream_error(call, trace, outcome, live.settings.ERROR_LOG_RECORD_REQUEST_BODY)
        last = outcome
        if not await _report_failure(rt, call, lease, outcome):
            break
    assert last is not None
    return last.as_response(call.adapter)


async def _lease(rt: Runtime, live: Live, call: Call, trace: Trace) -> kp.Lease | Response:
    request = kp.LeaseRequest(
        model=call.model,
        pool=call.pool,  # type: ignore[arg-type]
        exclude_key_ids=trace.tried,
        # a model's MODEL_KEY_TAGS binding first, else the caller token's key tag
        tag=live.model_tag(call.model) or trace.caller.key_tag,
        want_key_id=call.want_key_id,
    )
    try:
        reply = await rt.pool.lease(request, LEASE_TIMEOUT)
    except PoolUnavailable as exc:
        log.error("keypool unreachable", extra={"error": str(exc)})
        return error_response(call.dialect, 503, "gempool's key pool is unavailable; try again shortly.")
    if reply.HasField("lease"):
        return reply.lease
    exhausted = reply.exhausted
    if exhausted.retry_after_seconds > 0:
        wait = math.ceil(exhausted.retry_after_seconds)
        message = exhausted.message or f"Every key is cooling down for {call.model}; retry in {wait}s."
        return error_response(call.dialect, 429, message, headers={"retry-after": str(wait)})
    message = exhausted.message or f"No upstream key can serve {call.model or 'this request'}."
    return error_response(call.dialect, 503, message)


def _when_exhausted(call: Call, exhausted: Response, last: Outcome | None) -> Response:
    """No key left to try: a cooling pool says when to come back; else show the last failure.

    When the last failure was the upstream's (no answer, a 5xx), that is the truth the client
    gets (502/503), not a "retry in 2 s" from keys that merely cool.
    """
    if last is None or (exhausted.status_code == 429 and 0 < last.status < 500):
        return exhausted
    return last.as_response(call.adapter)


async def _report_failure(rt: Runtime, call: Call, lease: kp.Lease, outcome: Outcome) -> bool:
    """Tell the pool; True when the request should go on with another key."""
    report = outcome.report(lease, call.model, call.pool)
    try:
        verdict = await rt.pool.report(report, LEASE_TIMEOUT)
    except PoolUnavailable as exc:
        log.error("keypool report failed", extra={"error": str(exc)})
        return outcome.status == 0 or outcome.status >= 500 or outcome.status == 429
    rt.metrics.attempts.labels(kp.Verdict.Name(verdict.verdict).removeprefix("VERDICT_").lower()).inc()
    log.warning(
        "upstream attempt failed",
        extra={
            "key": mask(lease.api_key),
            "model": call.model,
            "status": outcome.status,
            "verdict": kp.Verdict.Name(verdict.verdict),
            "reason": verdict.reason,
        },
    )
    return verdict.retry


def _observe(rt: Runtime, call: Call, response: Response, started: float, trace: Trace) -> None:
    first_byte = time.perf_counter() - started
    rt.metrics.requests.labels(call.route, str(response.status_code)).inc()
    rt.metrics.seconds.labels(call.route).observe(first_byte)
    rt.metrics.retries.observe(max(0, len(trace.tried) - 1))
    if isinstance(response, StreamingResponse):  # logged when the stream ends
        status, source = response.status_code, response.body_iterator
        response.body_iterator = logged_stream(rt, call, trace, status, source, started, first_byte)
    else:
        tail = bytes(response.body[-TAIL:])  # Starlette types a body as bytes | memoryview
        rt.logs.request(call, trace, response.status_code, first_byte, first_byte, tail)
