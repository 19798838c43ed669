"""What may be stored, and under which names: the only input checks of the service."""

import re
import secrets

MAX_UPLOAD_BYTES = 20 * 1024 * 1024

# Canonical mime type -> extension. SVG is left out on purpose: the gateway serves these files
# from its own origin, and an SVG can carry script.
EXTENSIONS: dict[str, str] = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/bmp": "bmp",
    "image/avif": "avif",
    "image/heic": "heic",
    "image/heif": "heif",
    "audio/wav": "wav",
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
    "audio/opus": "opus",
    "audio/flac": "flac",
    "audio/aac": "aac",
    "audio/mp4": "m4a",
    "audio/webm": "weba",
}
ALIASES = {
    "image/jpg": "image/jpeg",
    "image/x-ms-bmp": "image/bmp",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/mp3": "audio/mpeg",
    "audio/x-flac": "audio/flac",
}
MIME_TYPES = {ext: mime for mime, ext in EXTENSIONS.items()}

_NAME = re.compile(r"[A-Za-z0-9_-]{32}\.(?P<ext>[a-z0-9]{2,5})")


class InvalidUpload(ValueError):
    """The request cannot be stored (wrong type, empty, too large, bad name)."""


def canonical_mime(mime_type: str) -> str:
    """``Image/JPG; q=1`` -> ``image/jpeg``; raises InvalidUpload for anything not stored here."""
    base = mime_type.split(";", 1)[0].strip().lower()
    base = ALIASES.get(base, base)
    if base not in EXTENSIONS:
        kinds = ", ".join(sorted(EXTENSIONS))
        raise InvalidUpload(f"mime type {mime_type!r} is not accepted; accepted: {kinds}")
    return base


def check_upload(data: bytes, mime_type: str) -> str:
    """Validate an upload; returns its canonical mime type."""
    mime = canonical_mime(mime_type)
    if not data:
        raise InvalidUpload("data is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidUpload(f"data is {len(data)} bytes; the limit is {MAX_UPLOAD_BYTES}")
    return mime


def new_name(mime: str) -> str:
    """A random, unguessable file name (192 bits) with the extension of ``mime``."""
    return f"{secrets.token_urlsafe(24)}.{EXTENSIONS[mime]}"


def mime_of_name(name: str) -> str:
    """The mime type of a name made by :func:`new_name`; InvalidUpload for any other name.

    The pattern has no dots or slashes besides the extension's, so a valid name can never leave
    the storage directory.
    """
    match = _NAME.fullmatch(name)
    if match is None or match["ext"] not in MIME_TYPES:
        raise InvalidUpload(f"{name[:80]!r} is not a stored file name")
    return MIME_TYPES[match["ext"]]
