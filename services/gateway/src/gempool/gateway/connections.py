"""uvicorn's httptools protocol with deadlines, so idle and slow clients cannot hold connections.

uvicorn closes a connection that stays idle after an answer (``timeout_keep_alive``) but sets no
deadline while a request arrives: a client that connects and sends nothing, trickles its headers
(slowloris) or sends its headers and then nothing of the body it announced holds a connection, and
memory, for as long as it likes; and httptools puts no bound on the size of a request head. Here:

- the request head (request line and headers) must arrive whole within ``HTTP_HEAD_TIMEOUT`` seconds
  of its first byte, or of the connection opening;
- the body must arrive whole within ``HTTP_BODY_TIMEOUT`` seconds after the head;
- a head larger than ``MAX_HEADER_BYTES`` is answered 431 and the connection closed.

A deadline that passes closes the connection (the app, if it is reading the body, sees the client
leave). Time the gateway itself spends answering is not bounded here (``TIME_OUT`` bounds upstream
attempts).
"""

import asyncio
import functools
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gempool.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

# uvicorn imports the protocol by this path in each worker process (a class object is not picklable).
PROTOCOL_PATH = "gempool.gateway.connections:GuardedProtocol"


@dataclass(frozen=True)
class ConnectionLimits:
    head_timeout: float
    body_timeout: float
    max_head_bytes: int

    @classmethod
    def of(cls, settings: GatewaySettings) -> "ConnectionLimits":
        return cls(settings.HTTP_HEAD_TIMEOUT, settings.HTTP_BODY_TIMEOUT, settings.MAX_HEADER_BYTES)


@functools.cache
def _from_environment() -> ConnectionLimits:
    return ConnectionLimits.of(GatewaySettings())


class HeadTooLarge(Exception):
    pass


class GuardedProtocol(HttpToolsProtocol):
    limits: ClassVar[ConnectionLimits | None] = None  # None: from the environment (worker processes)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = self.limits or _from_environment()
        self._deadline: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._head_too_large = False

    @classmethod
    def with_limits(cls, limits: ConnectionLimits) -> type["GuardedProtocol"]:
        """A protocol class for one process whose limits are not the environment's (tests, main)."""
        return type("GuardedProtocol", (cls,), {"limits": limits})

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm(self._limits.head_timeout, "request head")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        if self._deadline is None:  # armed already when this is the connection's first request
            self._arm(self._limits.head_timeout, "request head")

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        self._arm(self._limits.body_timeout, "request body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        if not self._head_too_large:
            super().send_400_response(msg)
            return
        body = f"The request head is larger than {self._limits.max_head_bytes} bytes.".encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
        )
        self.transport.close()

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self._limits.max_head_bytes:
            self._head_too_large = True
            raise HeadTooLarge  # httptools stops parsing; uvicorn calls send_400_response

    def _arm(self, seconds: float, what: str) -> None:
        self._deadline = self.loop.call_later(seconds, self._expire, seconds, what)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self, seconds: float, what: str) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            log.info(
                f"closed a connection whose {what} took longer than {seconds:g} s",
                extra={"client": self.client},
            )
            self.transport.close()
