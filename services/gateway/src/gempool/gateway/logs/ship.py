"""Request and error logs, shipped to the config service in batches off the request's path.

A request only appends a small tuple to an in-memory deque; a background task turns them into
``WriteLogs`` batches every ``LOG_FLUSH_SECONDS``. A batch that fails (config service down or
restarting) is kept with its id and sent again, so the config service stores it exactly once; the
buffer is bounded by ``LOG_BUFFER_MAX`` and counts what it had to drop.

With a :class:`~gempool.gateway.logs.spool.Spool` (``LOG_SPOOL_DIR``), records that have waited
``LOG_SPOOL_AFTER_SECONDS`` for an unreachable config service, and whatever is left at shutdown,
go to disk as batches under their ids; the background task ships spooled batches (on start, after
an outage, and every ``SPOOL_SCAN`` seconds for files a stopped peer left) and deletes each file
only once the config service has acknowledged it.
"""

import asyncio
import contextlib
import logging
import re
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge

from gempool.api.config.v1 import config_pb2, config_pb2_grpc
from gempool.api.keypool.v1 import keypool_pb2 as kp
from gempool.common.googleerror import parse_error
from gempool.common.keys import mask
from gempool.common.scrub import scrub
from gempool.common.tasks import stop_tasks
from gempool.gateway.access.tokens import Caller
from gempool.gateway.errors import Dialect
from gempool.gateway.logs.spool import Spool
from gempool.gateway.metrics import Usage

log = logging.getLogger(__name__)

TAIL = 4096  # bytes of an answer kept to read its token usage from
BODY_LIMIT = 64 * 1024  # request body kept with an error log (ERROR_LOG_RECORD_REQUEST_BODY)
ERROR_LIMIT = 8 * 1024  # upstream error body kept
SLICE = 100  # records converted between yields to the event loop
SPOOL_SCAN = 30.0  # seconds between looks for spooled batches while nothing is known to be there
SPOOL_BATCHES = 10  # spooled batches shipped per round, so fresh records are not held up behind them
TRANSPORT_CODES = {kp.TRANSPORT_TIMEOUT: "TIMEOUT", kp.TRANSPORT_CONNECT_ERROR: "CONNECTION_ERROR"}


class RequestFacts(Protocol):
    """What the log keeps of a client's request (the pipeline's ``Call`` is one)."""

    @property
    def model(self) -> str: ...
    @property
    def dialect(self) -> Dialect: ...
    @property
    def body(self) -> bytes: ...


class FailedAttempt(Protocol):
    """What the log keeps of an attempt that failed (the pipeline's ``Outcome`` is one)."""

    @property
    def status(self) -> int: ...
    @property
    def transport(self) -> int: ...
    @property
    def empty(self) -> bool: ...
    @property
    def body(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Ended:
    """A stream that began but did not finish: the status logged for it, a code and why."""

    status: int
    code: str
    message: str
    transport: int = kp.TRANSPORT_OK
    empty: bool = False
    body: bytes = b""


@dataclass(slots=True)
class Trace:
    """One client request on its way through the attempt loop."""

    caller: Caller
    tried: list[str] = field(default_factory=list)  # key ids, in order
    key: str = ""  # masked key of the latest attempt
    request_id: str = field(default_factory=lambda: secrets.token_hex(8))
    secret: str = field(default="", repr=False)  # that key whole: only to scrub it from error texts

    def use(self, api_key: str) -> None:
        self.key, self.secret = mask(api_key), api_key


USAGE_NUMBER = re.compile(
    rb'"(promptTokenCount|candidatesTokenCount|thoughtsTokenCount|prompt_tokens|completion_tokens)"\s*:\s*(\d+)'
)
USAGE = (
    (b'"usageMetadata"', ("promptTokenCount",), ("candidatesTokenCount", "thoughtsTokenCount")),
    (b'"usage"', ("prompt_tokens",), ("completion_tokens",)),
)


def usage(tail: bytes) -> tuple[int, int]:
    """(tokens in, tokens out) from the end of an answer: Gemini's usageMetadata or OpenAI's usage.

    Reads the numbers after the last marker (the last event of a stream carries the totals).
    """
    for marker, prompt, answer in USAGE:
        at = tail.rfind(marker)
        if at >= 0:
            numbers: dict[str, int] = {}
            for match in USAGE_NUMBER.finditer(tail, at):
                numbers.setdefault(match[1].decode(), int(match[2]))
            return sum(numbers.get(n, 0) for n in prompt), sum(numbers.get(n, 0) for n in answer)
    return 0, 0


def google_error(body: bytes) -> tuple[str, str]:
    """(status, message) of Google's error JSON; a body that is not one is its own message."""
    error = parse_error(body)
    if error is None:
        return "", body[:2000].decode(errors="replace")
    return error.status, error.message[:2000]


class ShipperMetrics:
    def __init__(self, registry: CollectorRegistry | None, buffered: Any) -> None:
        self.shipped = Counter(
            "gempool_gateway_logs_shipped",
            "Log records stored by the config service",
            ["kind"],
            registry=registry,
        )
        self.dropped = Counter(
            "gempool_gateway_logs_dropped",
            "Log records dropped because the buffer was full (config service away too long)",
            ["kind"],
            registry=registry,
        )
        self.failures = Counter(
            "gempool_gateway_log_ship_failures",
            "WriteLogs calls that failed (kept for a retry)",
            registry=registry,
        )
        # Summed over the live worker processes when GATEWAY_WORKERS > 1 (set each round there).
        self.buffered = Gauge(
            "gempool_gateway_logs_buffered",
            "Log records waiting to be shipped",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.buffered.set_function(buffered)
        for kind in ("request", "error"):  # at zero from the start, so the first one shows in rate()
            self.shipped.labels(kind)
            self.dropped.labels(kind)


class LogShipper:
    def __init__(
        self,
        stub: "config_pb2_grpc.ConfigServiceAsyncStub",
        registry: CollectorRegistry | None = None,
        *,
        interval: float = 0.5,
        capacity: int = 100_000,
        batch_size: int = 1000,
        spool: Spool | None = None,
        spool_after: float = 5.0,
        usage: Usage | None = None,
    ) -> None:
        self._usage = usage  # requests and tokens by model and team, counted as records are batched
        self._stub, self._interval, self._batch_size = stub, interval, batch_size
        self._spool, self._spool_after = spool, spool_after
        self._requests: deque[tuple[Any, ...]] = deque(maxlen=capacity)
        self._errors: deque[tuple[Any, ...]] = deque(maxlen=capacity)
        self._pending: config_pb2.WriteLogsRequest | None = None
        self._task: asyncio.Task[None] | None = None
        self._down = False
        self._down_since = 0.0  # time.monotonic() of the first failure of this outage
        self._next_scan = 0.0  # time.monotonic() when the spool is looked at next: at once on start
        self._spool_stuck = False  # the spool could not be written (logged once)
        self.metrics = ShipperMetrics(registry, self.buffered)

    def buffered(self) -> int:
        pending = self._pending
        waiting = len(pending.requests) + len(pending.errors) if pending is not None else 0
        return len(self._requests) + len(self._errors) + waiting

    def down_for(self) -> float:
        """Seconds since log shipping to the config service last failed (0: it is working)."""
        return time.monotonic() - self._down_since if self._down else 0.0

    # ---- the request path: append and return

    def request(
        self, call: RequestFacts, trace: Trace, status: int, first_byte: float, latency: float, tail: bytes
    ) -> None:
        record = (
            time.time() - latency,
            trace.caller.name,
            call.model,
            call.dialect.value,
            trace.key,
            len(trace.tried),
            status,
            latency,
            first_byte,
            tail[-TAIL:],
            trace.request_id,
            trace.tried[-1] if trace.tried else "",
        )
        self._append(self._requests, record, "request")

    def upstream_error(
        self, call: RequestFacts, trace: Trace, outcome: FailedAttempt, with_body: bool
    ) -> None:
        body = call.body[:BODY_LIMIT] if with_body else b""
        record = (
            time.time(),
            trace.key,
            call.model,
            outcome,
            body,
            trace.request_id,
            trace.caller.name,
            trace.secret,
            trace.tried[-1] if trace.tried else "",
        )
        self._append(self._errors, record, "error")

    def cut(self, call: RequestFacts, trace: Trace, status: int, code: str, message: str) -> None:
        """Why a stream that began ended early (its request record holds ``status``)."""
        ended = Ended(status, code, message)
        kid = trace.tried[-1] if trace.tried else ""
        caller = trace.caller.name
        record = (time.time(), trace.key, call.model, ended, b"", trace.request_id, caller, "", kid)
        self._append(self._errors, record, "error")

    def _append(self, queue: "deque[tuple[Any, ...]]", record: tuple[Any, ...], kind: str) -> None:
        if len(queue) == queue.maxlen:
            self.metrics.dropped.labels(kind).inc()  # the oldest record goes
        queue.append(record)

    # ---- the background task

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="log-shipper")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.round()

    async def round(self) -> None:
        """One flush; then the spool: ship from it when the config service answers, else write to it
        what has waited ``spool_after`` seconds."""
        self._report_gauges()
        if await self.flush():
            if self._spool is not None and time.monotonic() >= self._next_scan:
                await self.ship_spooled()
        elif self._spool is not None and time.monotonic() - self._down_since >= self._spool_after:
            await self.spill()

    def _report_gauges(self) -> None:
        """Function gauges are not shared between worker processes: set their values too."""
        self.metrics.buffered.set(self.buffered())
        if self._spool is not None:
            self._spool.gauge.set(self._spool.size())

    async def flush(self) -> bool:
        """Ship what is buffered now; False when the config service did not take it (kept).

        Records that arrive meanwhile wait for the next flush: chasing them would turn one batch
        every LOG_FLUSH_SECONDS into a stream of tiny ones under load (measured: 20 records a
        batch instead of 500, and ten times the config service's CPU per request).
        """
        budget = len(self._requests) + len(self._errors)
        while self._pending is not None or (budget > 0 and (self._requests or self._errors)):
            if self._pending is None:
                await self._fill()
            assert self._pending is not None
            try:
                await self._stub.WriteLogs(self._pending, timeout=10)
            except grpc.aio.AioRpcError as exc:
                self._failed(exc)
                return False
            budget -= len(self._pending.requests) + len(self._pending.errors)
            self._shipped(self._pending)
            self._pending = None
        return True

    async def ship_spooled(self) -> bool:
        """Ship up to SPOOL_BATCHES spooled batches, deleting each file once acknowledged; False
        when the config service did not take one (the rest waits ``spool_after``)."""
        assert self._spool is not None
        files = await asyncio.to_thread(self._spool.files)
        for path in files[:SPOOL_BATCHES]:
            batch = await asyncio.to_thread(self._spool.read, path)
            if batch is None:
                continue
            try:
                await self._stub.WriteLogs(batch, timeout=10)
            except grpc.aio.AioRpcError as exc:
                self._failed(exc)
                self._next_scan = time.monotonic() + self._spool_after
                return False
            await asyncio.to_thread(self._spool.remove, path)
            self._shipped(batch)
        more = len(files) > SPOOL_BATCHES
        self._next_scan = 0.0 if more else time.monotonic() + SPOOL_SCAN
        return True

    async def spill(self) -> None:
        """Write everything buffered to the spool, a batch a file; a pending batch keeps its id
        (the config service may have stored it already)."""
        assert self._spool is not None
        records = self.buffered()
        while self._pending is not None or self._requests or self._errors:
            if self._pending is None:
                await self._fill()
            assert self._pending is not None
            try:
                await asyncio.to_thread(self._spool.write, self._pending)
            except OSError as exc:
                if not self._spool_stuck:
                    self._spool_stuck = True
                    log.warning("log spool not writable; records kept in memory", extra={"error": repr(exc)})
                return
            self._spool_stuck, self._pending = False, None
        self._next_scan = 0.0
        log.info(
            "log records spooled to disk", extra={"records": records, "directory": str(self._spool.directory)}
        )

    def _failed(self, exc: grpc.aio.AioRpcError) -> None:
        self.metrics.failures.inc()
        if not self._down:
            self._down, self._down_since = True, time.monotonic()
            log.warning("log shipping paused; records kept", extra={"code": exc.code().name})

    def _shipped(self, batch: config_pb2.WriteLogsRequest) -> None:
        self.metrics.shipped.labels("request").inc(len(batch.requests))
        self.metrics.shipped.labels("error").inc(len(batch.errors))
        if self._down:
            self._down = False
            log.info("log shipping resumed", extra={"buffered": self.buffered()})

    async def _fill(self) -> None:
        """A new pending batch of up to batch_size records of each kind, converted a slice at a
        time so requests in flight never wait long; cancelled halfway, the records stay pending."""
        batch = self._pending = config_pb2.WriteLogsRequest(batch_id=uuid.uuid4().hex)
        await self._move(self._requests, to_request, batch.requests)
        if self._usage is not None:
            self._usage.count(batch.requests)
        await self._move(self._errors, to_error, batch.errors)

    async def _move(self, queue: "deque[tuple[Any, ...]]", convert: Callable[[Any], Any], into: Any) -> None:
        for n in range(min(self._batch_size, len(queue))):
            into.append(convert(queue.popleft()))
            if n % SLICE == SLICE - 1:
                await asyncio.sleep(0)

    async def close(self, timeout: float = 3.0) -> None:
        """Stop the task and try once more to deliver what is left."""
        await stop_tasks(self._task)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), timeout)
        if self._spool is not None and self.buffered():
            await self.spill()
        if left := self.buffered():
            log.warning("log records not delivered at shutdown", extra={"records": left})


def to_request(record: tuple[Any, ...]) -> config_pb2.RequestLog:
    at, token, model, dialect, key, attempts, status, latency, first_byte, tail, request_id, kid = record
    tokens_in, tokens_out = usage(tail) if status == 200 else (0, 0)
    return config_pb2.RequestLog(
        at_unix=at,
        token_name=token,
        model=model,
        dialect=dialect,
        key_masked=key,
        attempts=attempts,
        status=status,
        latency_seconds=latency,
        first_byte_seconds=first_byte,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        request_id=request_id,
        key_id=kid,
    )


def to_error(record: tuple[Any, ...]) -> config_pb2.ErrorLog:
    at, key, model, outcome, body, request_id, token, secret, kid = record
    if isinstance(outcome, Ended):
        code, message = outcome.code, outcome.message
    elif outcome.status == 0:
        code, message = (
            TRANSPORT_CODES.get(outcome.transport, "NO_ANSWER"),
            "no HTTP answer from the upstream",
        )
    elif outcome.empty:
        code, message = "EMPTY_ANSWER", "the answer's first event carried no content"
    else:
        code, message = google_error(bytes(outcome.body[:ERROR_LIMIT]))
    message = scrub(message, secret)  # an upstream that echoes a key never gets it logged
    return config_pb2.ErrorLog(
        at_unix=at,
        key_masked=key,
        model=model,
        status=outcome.status,
        error_code=code,
        message=message,
        request_body=scrub(body.decode(errors="replace")),
        request_id=request_id,
        token_name=token,
        key_id=kid,
    )
