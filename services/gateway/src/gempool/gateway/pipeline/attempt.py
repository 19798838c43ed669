"""One upstream attempt with one leased key: call, judge the first event, relay the rest."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
from starlette.responses import Response

from gempool.api.keypool.v1 import keypool_pb2 as kp
from gempool.common.scrub import scrub_bytes
from gempool.gateway.pipeline import events
from gempool.gateway.pipeline.adapter import Adapter
from gempool.gateway.pipeline.streamend import UPSTREAM_CUT, UPSTREAM_SILENT, StreamCut
from gempool.gateway.pipeline.upstream import FORWARD_HEADERS
from gempool.gateway.runtime import Live, Runtime

if TYPE_CHECKING:
    from gempool.gateway.pipeline.proxy import Call

log = logging.getLogger(__name__)

ERROR_BODY_LIMIT = 64 * 1024


@dataclass
class Outcome:
    """How an attempt ended. ``response`` is set when the client's answer is decided."""

    response: Response | None = None
    status: int = 0
    body: bytes = b""
    content_type: str = "application/json"
    transport: int = kp.TRANSPORT_OK
    empty: bool = False
    seconds: float = 0.0

    def report(self, lease: kp.Lease, model: str, pool: int) -> kp.ReportRequest:
        return kp.ReportRequest(
            key_id=lease.key_id,
            proxy=lease.proxy,  # the pool tracks each route's health apart from the keys
            model=model,
            pool=pool,  # type: ignore[arg-type]
            http_status=self.status,
            error_body=self.body[:ERROR_BODY_LIMIT] if self.status != 200 else b"",
            transport=self.transport,  # type: ignore[arg-type]
            latency_seconds=self.seconds,
            empty_answer=self.empty,
        )

    def as_response(self, adapter: Adapter) -> Response:
        """The upstream's own answer, in the client's dialect."""
        if self.status == 0:
            what = "timed out" if self.transport == kp.TRANSPORT_TIMEOUT else "could not be reached"
            return adapter.no_answer(f"The upstream {what} on every attempt.")
        return adapter.failure(self.status, self.body, self.content_type)


def _send(rt: Runtime, live: Live, call: "Call", lease: kp.Lease) -> "aiohttp.client._RequestContextManager":
    session = rt.upstream.get(lease.proxy)
    headers = {k: v for k, v in call.headers.items() if k in FORWARD_HEADERS}
    headers.update(live.settings.CUSTOM_HEADERS)
    if call.bearer:
        headers["authorization"] = f"Bearer {lease.api_key}"
    else:
        headers["x-goog-api-key"] = lease.api_key
    timeout = aiohttp.ClientTimeout(
        sock_connect=min(10.0, live.settings.TIME_OUT), sock_read=live.settings.TIME_OUT
    )
    return session.request(
        call.http_method,
        (call.root or live.root) + call.path,
        params=call.query or None,
        data=call.body or None,
        headers=headers,
        timeout=timeout,
    )


async def attempt(rt: Runtime, live: Live, call: "Call", lease: kp.Lease) -> Outcome:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(live.settings.TIME_OUT):
            response = await _send(rt, live, call, lease)
            outcome = await _judge(rt, call, lease, response, started)
    except TimeoutError:
        outcome = Outcome(transport=kp.TRANSPORT_TIMEOUT)
    except aiohttp.ClientError as exc:
        log.info("upstream transport error", extra={"error": type(exc).__name__})
        outcome = Outcome(transport=kp.TRANSPORT_CONNECT_ERROR)
    outcome.seconds = time.perf_counter() - started
    return outcome


async def _judge(
    rt: Runtime, call: "Call", lease: kp.Lease, response: aiohttp.ClientResponse, started: float
) -> Outcome:
    content_type = response.headers.get("content-type", "application/json")
    if response.status != 200 or not call.stream:
        try:
            body = await response.read()
        finally:
            response.release()
        if response.status != 200:
            # Google echoes the key in some errors (a suspended key's 403): no exit may see it whole.
            body = scrub_bytes(body, lease.api_key)
            return Outcome(status=response.status, body=body, content_type=content_type)
        if call.check_empty and not events.body_has_content(body):
            return Outcome(status=200, body=body, content_type=content_type, empty=True)
        _report_success(rt, call, lease, time.perf_counter() - started)
        answer = call.adapter.success(body, content_type)
        for name in call.keep_headers:
            if name in response.headers:
                answer.headers[name] = response.headers[name]
        return Outcome(response=answer, status=200)
    return await _open_stream(rt, call, lease, response, started, content_type)


async def _open_stream(
    rt: Runtime,
    call: "Call",
    lease: kp.Lease,
    response: aiohttp.ClientResponse,
    started: float,
    content_type: str,
) -> Outcome:
    chunks = response.content.iter_any()
    buffer, first = b"", None
    find = events.sse_first_event if call.sse else events.json_array_first_object
    try:
        async for chunk in chunks:
            buffer += chunk
            first = find(buffer)
            if first is not None:
                break
    except BaseException:
        response.close()
        raise
    if first is None and not buffer:
        response.close()
        return Outcome(status=200, content_type=content_type, empty=True)
    if first is not None and call.check_empty and not events.has_content(first[1]):
        response.close()
        return Outcome(status=200, body=buffer, content_type=content_type, empty=True)
    relay = _relay(rt, call, lease, response, chunks, buffer, started)
    return Outcome(response=call.adapter.stream(relay, content_type), status=200)


async def _relay(
    rt: Runtime,
    call: "Call",
    lease: kp.Lease,
    response: aiohttp.ClientResponse,
    chunks: AsyncIterator[bytes],
    head: bytes,
    started: float,
) -> AsyncIterator[bytes]:
    transport = kp.TRANSPORT_CLIENT_GONE
    try:
        yield head
        async for chunk in chunks:
            yield chunk
        transport = kp.TRANSPORT_OK
    except TimeoutError:
        log.warning("upstream stream went silent; ending it", extra={"model": call.model})
        transport = kp.TRANSPORT_TIMEOUT
        raise StreamCut(UPSTREAM_SILENT) from None  # the client's stream ends with an error event
    except aiohttp.ClientError as exc:
        log.warning("upstream stream cut", extra={"model": call.model, "error": type(exc).__name__})
        transport = kp.TRANSPORT_CONNECT_ERROR
        raise StreamCut(UPSTREAM_CUT) from None
    finally:
        response.close() if transport != kp.TRANSPORT_OK else response.release()
        outcome = Outcome(status=200 if transport == kp.TRANSPORT_OK else 0, transport=transport)
        outcome.seconds = time.perf_counter() - started
        rt.reporter.add(outcome.report(lease, call.model, call.pool))


def _report_success(rt: Runtime, call: "Call", lease: kp.Lease, seconds: float) -> None:
    rt.metrics.attempts.labels("success").inc()
    outcome = Outcome(status=200, seconds=seconds)
    rt.reporter.add(outcome.report(lease, call.model, call.pool))
