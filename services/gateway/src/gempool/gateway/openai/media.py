"""Images in and out: fetching image URLs a client sent, uploading images a model made."""

import asyncio
import base64
import ipaddress
import logging
from collections.abc import Iterable

import aiohttp
import yarl

from gempool.api.imagehost.v1 import imagehost_pb2
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


async def fetch_all(rt: Runtime, urls: Iterable[str]) -> dict[str, Blob]:
    urls = list(urls)
    if not urls:
        return {}
    blobs = await asyncio.gather(*(fetch(rt, url) for url in urls))
    return dict(zip(urls, blobs, strict=True))


async def fetch(rt: Runtime, url: str) -> Blob:
    """An image the client pointed at, within FETCH_LIMIT and FETCH_TIMEOUT, or BadRequest."""
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT)
    allow_private = rt.live is not None and rt.live.settings.IMAGE_URL_PRIVATE_ALLOWED
    try:
        for _ in range(MAX_REDIRECTS + 1):
            await _check_address(url, allow_private)
            async with rt.upstream.get("").get(url, timeout=timeout, allow_redirects=False) as response:
                if response.status in (301, 302, 303, 307, 308) and "location" in response.headers:
                    url = str(response.url.join(yarl.URL(response.headers["location"])))
                    continue
                if response.status != 200:
                    raise BadRequest(f"Fetching the image {url} failed: HTTP {response.status}.", "messages")
                data = await _read_limited(response, url)
                mime = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
                break
        else:
            raise BadRequest(f"Fetching the image {url} failed: too many redirects.", "messages")
    except BadRequest:
        raise
    except (aiohttp.ClientError, TimeoutError, ValueError, OSError) as exc:
        raise BadRequest(f"Fetching the image {url} failed: {type(exc).__name__}.", "messages") from None
    if not mime.startswith("image/"):
        mime = next((m for magic, m in MAGIC.items() if data.startswith(magic)), mime or "image/jpeg")
    return Blob(mime, base64.b64encode(data).decode())


async def _check_address(url: str, allow_private: bool) -> None:
    """Refuse URLs that lead into the gateway's own network (SSRF), unless the admin allows it."""
    parsed = yarl.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise BadRequest(f"The image URL {url} must be http(s) or a data: URL.", "messages")
    if allow_private:
        return
    infos = await asyncio.get_running_loop().getaddrinfo(parsed.host, parsed.port or 443)
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        if not address.is_global:
            raise BadRequest(
                f"The image URL {url} points at a private address ({address}); gempool fetches only public "
                "addresses unless IMAGE_URL_PRIVATE_ALLOWED is set.",
                "messages",
            )


async def _read_limited(response: aiohttp.ClientResponse, url: str) -> bytes:
    data = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > FETCH_LIMIT:
            raise BadRequest(
                f"The image {url} is larger than {FETCH_LIMIT // (1024 * 1024)} MiB.", "messages"
            )
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
