"""Fetching client-named URLs without reaching the gateway's own network (SSRF).

Checking an address with one DNS lookup and connecting after another lets a name answer a public
address to the check and a private one to the connection (DNS rebinding). Here the lookup the
connection uses is the one that is checked: the session's resolver refuses a name with any
non-public address, and aiohttp connects to exactly the addresses it returned (TLS still verifies
and sends SNI for the name). Its DNS cache is off, so nothing resolved earlier is reused; IP
literals skip resolvers, so :func:`check_host` judges them before the request.

Public means globally routable unicast. Refused besides private, loopback, link-local,
unspecified, multicast and reserved ranges: CGNAT ``100.64.0.0/10``, site-local ``fec0::/10``,
and every IPv6 form that embeds an IPv4 address the network may route inwards: IPv4-mapped
``::ffff:0:0/96``, IPv4-compatible ``::/96``, NAT64 ``64:ff9b::/96`` and ``64:ff9b:1::/48``,
6to4 ``2002::/16`` and Teredo ``2001::/32``.
"""

import ipaddress
import socket
from collections.abc import Callable

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
EMBEDDING_V4 = tuple(
    ipaddress.ip_network(n)
    for n in ("::ffff:0:0/96", "::/96", "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32")
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")


class PrivateAddress(Exception):
    """A URL's host is, or resolves to, an address that is not public."""

    def __init__(self, host: str, address: IP) -> None:
        super().__init__(f"{host} resolves to {address}")
        self.host, self.address = host, address


def public(address: IP) -> bool:
    """True for a globally routable unicast address that embeds no other address."""
    if not address.is_global or address.is_multicast or address.is_reserved or address.is_unspecified:
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return address not in CGNAT
    if address.is_site_local or address.ipv4_mapped or address.sixtofour or address.teredo:
        return False
    return not any(address in network for network in EMBEDDING_V4)


class CheckedResolver(AbstractResolver):
    """Resolves once and returns only checked addresses: what is connected to is what was judged."""

    def __init__(self, inner: AbstractResolver | None = None, allowed: Callable[[IP], bool] = public) -> None:
        self.inner = inner or aiohttp.ThreadedResolver()
        self.allowed = allowed

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self.inner.resolve(host, port, family)
        for result in found:
            address = ipaddress.ip_address(result["host"].split("%", 1)[0])
            if not self.allowed(address):
                raise PrivateAddress(host, address)
        return found

    async def close(self) -> None:
        await self.inner.close()


def check_host(host: str, allowed: Callable[[IP], bool] = public) -> None:
    """An IP literal host must be allowed (resolvers never see literals); names pass here."""
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return
    if not allowed(address):
        raise PrivateAddress(host, address)


def session(resolver: AbstractResolver | None) -> aiohttp.ClientSession:
    """A session for one request's fetches; ``resolver`` None: any address (IMAGE_URL_PRIVATE_ALLOWED)."""
    connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False, limit=8)
    return aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=True)
