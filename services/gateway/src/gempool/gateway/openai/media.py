"""Images in and out: fetching image URLs a client sent, uploading images a model made."""

import asyncio
import base64
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver

from gempool.api.imagehost.v1 import imagehost_pb2
from gempool.common.live import LiveSettings
from gempool.gateway.openai import safefetch
from gempool.gateway.openai.chat import BadRequest, Blob
from gempool.gateway.runtime import Runtime

log = logging.getLogger(__name__)

FETCH_LIMIT = 20 * 1024 * 1024  # Gemini's limit for a whole inline request
FETCH_TIMEOUT = 20.0
MAX_REDIRECTS = 3
UPLOAD_TIMEOUT = 15.0
MAGIC = {
    b"\x89PNG": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF8": "image/gif",
    b"RIFF": "image/webp",
}


@dataclass
class Budget:
    """What one request may make the gateway fetch, shared by all its image URLs: without it ten
    URLs of 20 MiB each held hundreds of MB (raw, base64 and JSON copies) for one small request."""

    limit: int
    used: int = 0

    def take(self, size: int) -> None:
        self.used += size
        if self.used > self.limit:
            raise BadRequest(
                f"The images this request points at add up to more than {self.limit} bytes "
                "(IMAGE_URL_MAX_TOTAL_BYTES).",
                "messages",
            )


def budget_for(rt: Runtime, count: int) -> Budget:
    """The request's fetch budget; too many URLs are refused before any is fetched."""
    settings = rt.live.settings if rt.live is not None else LiveSettings()
    if count > settings.IMAGE_URL_MAX_COUNT:
        raise BadRequest(
            f"The request points at {count} image URLs; at most {settings.IMAGE_URL_MAX_COUNT} "
            "are fetched (IMAGE_URL_MAX_COUNT). Send the others as data: URLs.",
            "messages",
        )
    return Budget(settings.IMAGE_URL_MAX_TOTAL_BYTES)


async def fetch_all(
    rt: Runtime, urls: Iterable[str], resolver: AbstractResolver | None = None
) -> dict[str, Blob]:
    """Every URL's image, fetched in one session whose every connection goes to a checked address
    (see :mod:`safefetch`), within the request's budget; ``resolver`` stands in for DNS in tests."""
    urls = list(urls)
    if not urls:
        return {}
    budget = budget_for(rt, len(urls))
    allow_private = rt.live is not None and rt.live.settings.IMAGE_URL_PRIVATE_ALLOWED
    checked = resolver if allow_private else safefetch.CheckedResolver(resolver)
    try:
        async with safefetch.session(checked) as http:
            tasks = [asyncio.ensure_future(_fetch(http, url, allow_private, budget)) for url in urls]
            try:
                blobs = await asyncio.gather(*tasks)
            finally:
                for task in tasks:  # one failed: the others stop fetching
                    task.cancel()
    finally:
        if checked is not None:
            await checked.close()
    return dict(zip(urls, blobs, strict=True))


async def fetch(rt: Runtime, url: str, resolver: AbstractResolver | None = None) -> Blob:
    """An image the client pointed at, within FETCH_LIMIT and FETCH_TIMEOUT, or BadRequest."""
    return (await fetch_all(rt, [url], resolver))[url]


async def _fetch(
    http: aiohttp.ClientSession, url: str, allow_private: bool, budget: Budget | None = None
) -> Blob:
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT)
    try:
        for _ in range(MAX_REDIRECTS + 1):
            _check_url(url, allow_private)
            async with http.get(url, timeout=timeout, allow_redirects=False) as response:
                if response.status in (301, 302, 303, 307, 308) and "location" in response.headers:
                    url = str(response.url.join(yarl.URL(response.headers["location"])))
                    continue
                if response.status != 200:
                    raise BadRequest(f"Fetching the image {url} failed: HTTP {response.status}.", "messages")
                data = await _read_limited(response, url, budget or Budget(FETCH_LIMIT))
                mime = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
                break
        else:
            raise BadRequest(f"Fetching the image {url} failed: too many redirects.", "messages")
    except BadRequest:
        raise
    except safefetch.PrivateAddress as exc:
        raise BadRequest(
            f"The image URL {url} points at a private address ({exc.address}); gempool fetches only public "
            "addresses unless IMAGE_URL_PRIVATE_ALLOWED is set.",
            "messages",
        ) from None
    except (aiohttp.ClientError, TimeoutError, ValueError, OSError) as exc:
        raise BadRequest(f"Fetching the image {url} failed: {type(exc).__name__}.", "messages") from None
    if not mime.startswith("image/"):
        mime = next((m for magic, m in MAGIC.items() if data.startswith(magic)), mime or "image/jpeg")
    return Blob(mime, base64.b64encode(data).decode())


def _check_url(url: str, allow_private: bool) -> None:
    """http(s) only; an IP literal must be public (names are judged by the session's resolver)."""
    parsed = yarl.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise BadRequest(f"The image URL {url} must be http(s) or a data: URL.", "messages")
    if not allow_private:
        safefetch.check_host(parsed.host)


async def _read_limited(response: aiohttp.ClientResponse, url: str, budget: Budget) -> bytes:
    data = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > FETCH_LIMIT:
            raise BadRequest(
                f"The image {url} is larger than {FETCH_LIMIT // (1024 * 1024)} MiB.", "messages"
            )
        budget.take(len(chunk))
    return bytes(data)


async def upload(rt: Runtime, mime_type: str, data_b64: str, base_url: str) -> str | None:
    """The public URL of a generated image, or None when it cannot be hosted (shown inline then)."""
    try:
        data = base64.b64decode(data_b64)
        request = imagehost_pb2.UploadRequest(data=data, mime_type=mime_type, filename="generated")
        reply = await rt.imagehost.Upload(request, timeout=UPLOAD_TIMEOUT)
    except Exception as exc:  # hosting is a nicety: an answer never fails for it
        log.warning("image upload failed; answering with inline data", extra={"error": str(exc)[:200]})
        return None
    url = str(reply.url)
    return base_url.rstrip("/") + url if url.startswith("/") else url


async def upload_all(rt: Runtime, images: Iterable[tuple[str, str]], base_url: str) -> dict[str, str]:
    """``{base64 data: url}`` for every image that could be hosted."""
    images = list(images)
    urls = await asyncio.gather(*(upload(rt, mime, data, base_url) for mime, data in images))
    return {data: url for (_, data), url in zip(images, urls, strict=True) if url}
