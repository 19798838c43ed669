"""The internal credential: every gRPC call between gempool's services carries a shared secret.

Whoever reaches a gRPC port could otherwise export every key, lease a raw key or plant a team token,
so servers refuse any call without ``authorization: Bearer <INTERNAL_TOKEN>``, checked in constant
time by :class:`InternalAuthInterceptor`. The check covers every method the server has, except the
standard health service (container and Kubernetes probes carry no secret, and health tells nothing),
so a new RPC is protected without a line of code. Clients get the credential on every call from
the channels :func:`channel` and :func:`sync_channel` build.

A shared secret rather than mTLS: it is one value in ``.env``, a compose secret or a Kubernetes
Secret, with no certificates to issue, mount and rotate per service; mTLS can be added underneath
by a service mesh without changing this.
"""

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeAlias

import grpc

log = logging.getLogger(__name__)

HEADER = "authorization"
UNPROTECTED_PREFIX = "/grpc.health.v1.Health/"
REQUEST_WAIT = 1.0  # seconds a refused streaming call may hold the server, waiting for the first message
REFUSAL = "missing or wrong internal credential: gRPC callers must send the INTERNAL_TOKEN this service has"
_Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"  # generic only in types-grpcio, so quoted
_Continuation: TypeAlias = "Callable[[grpc.HandlerCallDetails], Awaitable[_Handler | None]]"


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps a port reachable from this machine only."""
    name = host.strip().strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a name: it may resolve anywhere


def bind_problem(host: str, token: str) -> str | None:
    """Why serving gRPC on ``host`` with ``token`` is refused, or None when it is allowed."""
    if token or is_loopback(host):
        return None
    return (
        f"GRPC_HOST={host or '(all addresses)'} makes the gRPC port reachable from other machines, but "
        "INTERNAL_TOKEN is empty, so anyone reaching it could read every key: set INTERNAL_TOKEN "
        "(the same random secret in every gempool service, e.g. `python -c 'import secrets; "
        "print(secrets.token_urlsafe(32))'`) or bind GRPC_HOST=127.0.0.1"
    )


class InsecureBind(RuntimeError):
    """A gRPC service was asked to listen beyond loopback without the internal credential."""


def bearer(token: str) -> str:
    return f"Bearer {token}"


class InternalAuthInterceptor(grpc.aio.ServerInterceptor):
    """Refuses, with UNAUTHENTICATED, every call but health's that lacks the internal credential."""

    def __init__(self, token: str, log_every: float = 60.0) -> None:
        if not token:
            raise ValueError("the internal credential must not be empty")
        self._expected = bearer(token).encode()
        self._log_every, self._logged_at, self._refused = log_every, float("-inf"), 0

    async def intercept_service(self, continuation: _Continuation, details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        if handler is None or details.method.startswith(UNPROTECTED_PREFIX):
            return handler
        if self._carries_credential(details.invocation_metadata):
            return handler
        self._note_refusal(details.method)
        return refusal(handler)

    def _carries_credential(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> bool:
        sent = next((value for key, value in metadata or () if key == HEADER), None)
        if sent is None:
            return False
        return hmac.compare_digest(sent.encode() if isinstance(sent, str) else sent, self._expected)

    def _note_refusal(self, method: str) -> None:
        """One log line a minute at most: a scan must not flood the log (metrics count every one)."""
        self._refused += 1
        now = time.monotonic()
        if now - self._logged_at >= self._log_every:
            self._logged_at = now
            extra = {"method": method, "refused": self._refused}
            log.warning("refused gRPC calls without the internal credential", extra=extra)
            self._refused = 0


async def _deny(_: object, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, REFUSAL)


async def _deny_stream(_: object, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, REFUSAL)
    yield  # pragma: no cover - makes this an async generator, as streaming handlers are


async def _first_message(requests: AsyncIterator[Any]) -> None:
    """Wait (briefly) for the client's first message: a grpc.aio client whose send races with the
    refusal reports INTERNAL instead of the UNAUTHENTICATED that tells it what is wrong."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(anext(aiter(requests)), REQUEST_WAIT)


async def _deny_from_stream(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any]) -> Any:
    await _first_message(requests)
    await _deny(requests, context)


async def _deny_stream_from_stream(
    requests: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any]
) -> AsyncIterator[Any]:
    await _first_message(requests)
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, REFUSAL)
    yield  # pragma: no cover - makes this an async generator, as streaming handlers are


def refusal(handler: _Handler) -> _Handler:
    """A handler of the same kind as ``handler`` that refuses; the request is never parsed."""
    serialize = handler.response_serializer
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(_deny_stream_from_stream, None, serialize)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(_deny_from_stream, None, serialize)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(_deny_stream, None, serialize)
    return grpc.unary_unary_rpc_method_handler(_deny, None, serialize)


def server_interceptors(token: str) -> list[grpc.aio.ServerInterceptor]:
    """The credential check, or nothing when there is no token (allowed on loopback only)."""
    return [InternalAuthInterceptor(token)] if token else []


def _with_credential(
    details: grpc.aio.ClientCallDetails, pair: tuple[str, str]
) -> grpc.aio.ClientCallDetails:
    metadata = grpc.aio.Metadata(*(details.metadata or ()))
    metadata[pair[0]] = pair[1]
    return grpc.aio.ClientCallDetails(
        details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
    )


class _Credential:
    def __init__(self, token: str) -> None:
        self.pair = (HEADER, bearer(token))


class _UnaryUnary(_Credential, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await continuation(_with_credential(client_call_details, self.pair), request)


class _UnaryStream(_Credential, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await continuation(_with_credential(client_call_details, self.pair), request)


class _StreamUnary(_Credential, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        return await continuation(_with_credential(client_call_details, self.pair), request_iterator)


class _StreamStream(_Credential, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        return await continuation(_with_credential(client_call_details, self.pair), request_iterator)


def client_interceptors(token: str) -> list[grpc.aio.ClientInterceptor]:
    """Interceptors that put the credential on every kind of call (none without a token)."""
    if not token:
        return []
    return [_UnaryUnary(token), _UnaryStream(token), _StreamUnary(token), _StreamStream(token)]


def channel(address: str, token: str, options: Sequence[tuple[str, Any]] | None = None) -> grpc.aio.Channel:
    """An asyncio channel to another gempool service whose every call carries the credential."""
    return grpc.aio.insecure_channel(address, options=options, interceptors=client_interceptors(token))


class _SyncCredential(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """The same for the blocking API (tests, tools): one object serves all four kinds there."""

    def __init__(self, token: str) -> None:
        self.pair = (HEADER, bearer(token))

    def _details(self, details: Any) -> Any:
        metadata = [*(details.metadata or ()), self.pair]
        return _SyncDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )

    def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        return continuation(self._details(client_call_details), request_iterator)


class _SyncDetails(grpc.ClientCallDetails):
    def __init__(
        self, method: str, timeout: Any, metadata: Any, credentials: Any, wait_for_ready: Any
    ) -> None:
        self.method, self.timeout, self.metadata = method, timeout, metadata
        self.credentials, self.wait_for_ready = credentials, wait_for_ready


def sync_channel(address: str, token: str) -> grpc.Channel:
    """A blocking channel whose every call carries the credential (close it as the plain one)."""
    plain = grpc.insecure_channel(address)
    return grpc.intercept_channel(plain, _SyncCredential(token)) if token else plain
