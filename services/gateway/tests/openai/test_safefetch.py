"""Image URLs cannot reach the gateway's network by DNS rebinding or by an address in disguise."""

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from gempool.fakegemini.server import Running
from gempool.gateway.openai import media, safefetch
from gempool.gateway.openai.chat import BadRequest
from gempool.gateway.runtime import Runtime

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


@dataclass
class StubDns(AbstractResolver):
    """Answers ``answers[n]`` to the n-th lookup (the last one from then on), counting lookups."""

    answers: list[str]
    calls: list[str] = field(default_factory=list)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.calls.append(host)
        address = self.answers[min(len(self.calls), len(self.answers)) - 1]
        kind = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [{"hostname": host, "host": address, "port": port, "family": kind, "proto": 0, "flags": 0}]

    async def close(self) -> None:
        return None


@pytest.mark.parametrize(
    ("address", "fetched"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("10.0.0.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),  # CGNAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fec0::1", False),  # site-local
        ("fd00::1", False),
        ("ff02::1", False),
        ("::ffff:10.0.0.1", False),  # IPv4-mapped
        ("::ffff:8.8.8.8", False),
        ("::10.0.0.1", False),  # IPv4-compatible
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("64:ff9b::808:808", False),  # NAT64 of a public address: still a translator into IPv4
        ("64:ff9b:1::a00:1", False),  # local-use NAT64
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", False),  # Teredo
    ],
)
def test_only_public_unicast_addresses_are_fetched(address: str, fetched: bool) -> None:
    assert safefetch.public(ipaddress.ip_address(address)) is fetched


async def test_every_lookup_is_checked() -> None:
    dns = StubDns(["8.8.8.8", "127.0.0.1"])
    resolver = safefetch.CheckedResolver(dns)
    assert [r["host"] for r in await resolver.resolve("rebind.example", 80)] == ["8.8.8.8"]
    with pytest.raises(safefetch.PrivateAddress):
        await resolver.resolve("rebind.example", 80)


@dataclass
class Listener:
    """A tiny HTTP server on one loopback address: serves a PNG and notes each request."""

    host: str
    port: int = 0
    seen: list[bytes] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.seen.append(await reader.readuntil(b"\r\n\r\n"))
        head = f"HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: {len(PNG)}\r\n"
        writer.write(head.encode() + b"connection: close\r\n\r\n" + PNG)
        await writer.drain()
        writer.close()


@pytest.fixture
async def two_hosts() -> AsyncIterator[tuple[Listener, Listener]]:
    """ "Public" 127.0.0.2 and "internal" 127.0.0.1, on one port (the URL names one port)."""
    public, internal = Listener("127.0.0.2"), Listener("127.0.0.1")
    outer = await asyncio.start_server(public.handle, public.host, 0)
    public.port = internal.port = outer.sockets[0].getsockname()[1]
    inner = await asyncio.start_server(internal.handle, internal.host, internal.port)
    yield public, internal
    for server in (outer, inner):
        server.close()
        await server.wait_closed()


async def test_the_connection_goes_to_the_checked_address(two_hosts: tuple[Listener, Listener]) -> None:
    """The name answers a "public" address first and an internal one after: one lookup, checked,
    and the connection goes to exactly that address."""
    public, internal = two_hosts
    dns = StubDns([public.host, internal.host])
    resolver = safefetch.CheckedResolver(dns, allowed=lambda ip: str(ip) == public.host)
    url = f"http://rebind.example:{public.port}/cat.png"
    async with safefetch.session(resolver) as http:
        blob = await media._fetch(http, url, allow_private=False)
    assert blob.mime_type == "image/png"
    assert dns.calls == ["rebind.example"], "resolved once"
    assert len(public.seen) == 1 and b"host: rebind.example" in public.seen[0].lower()
    assert internal.seen == [], "nothing reached the internal address"


async def test_a_name_resolving_inwards_is_refused_before_any_connection(
    runtime: Runtime, two_hosts: tuple[Listener, Listener]
) -> None:
    _, internal = two_hosts
    for answer in ("127.0.0.1", "64:ff9b::7f00:1", "::ffff:127.0.0.1"):
        dns = StubDns([answer])
        with pytest.raises(BadRequest, match="private address"):
            await media.fetch(runtime, f"http://inward.example:{internal.port}/x.png", resolver=dns)
        assert dns.calls == ["inward.example"]
    assert internal.seen == []


@pytest.mark.parametrize(
    "url",
    [
        "http://[64:ff9b::a00:1]/x",
        "http://[::ffff:7f00:1]/x",
        "http://[2002:7f00:1::1]/x",
        "http://100.64.1.1/x",
    ],
)
async def test_a_literal_address_in_disguise_is_refused(
    runtime: Runtime, upstream: Running, url: str
) -> None:
    with pytest.raises(BadRequest, match="private address"):
        await media.fetch(runtime, url)
    assert not upstream.fake.calls
