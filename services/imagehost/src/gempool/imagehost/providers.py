"""The provider interface and the `local` provider; remote ones live in :mod:`.remote`."""

import asyncio
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gempool.imagehost import media


@dataclass(frozen=True)
class Upload:
    data: bytes
    mime_type: str  # canonical, see media.canonical_mime
    name: str  # random name with extension, see media.new_name


class ProviderError(Exception):
    """The provider could not store the upload (network, remote refusal, bad answer)."""


class ProviderNotConfigured(ProviderError):
    """The selected provider lacks a setting it needs (token, URL)."""


class TransientProviderError(ProviderError):
    """A failure that may pass on its own (network, timeout, HTTP 429 or 5xx): worth another try."""


def raise_for_status(status: int, detail: str) -> None:
    """ProviderError for an HTTP error answer; transient for 429 and 5xx."""
    if status == 429 or status >= 500:
        raise TransientProviderError(f"answered HTTP {status}{detail}")
    if status >= 400:
        raise ProviderError(f"answered HTTP {status}{detail}")


class Provider(Protocol):
    name: str

    async def upload(self, item: Upload) -> str:
        """Store ``item`` and return the URL clients should use."""
        ...


class LocalStore:
    """Files in one directory; the gateway serves them at ``/images/{name}`` via Fetch."""

    name = "local"

    def __init__(self, directory: Path, public_base_url: str) -> None:
        self.directory = directory
        self.public_base_url = public_base_url

    def prepare(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    async def upload(self, item: Upload) -> str:
        await asyncio.to_thread(self._write, item.name, item.data)
        return f"{self.public_base_url}/images/{item.name}"

    async def read(self, name: str) -> tuple[bytes, str]:
        """The bytes and mime type of a stored file; FileNotFoundError if there is none."""
        mime = media.mime_of_name(name)
        data = await asyncio.to_thread((self.directory / name).read_bytes)
        return data, mime

    def sweep(self, max_age: float, max_bytes: int, now: float) -> int:
        """Delete files older than ``max_age`` seconds (0: no age limit), then the oldest until the
        folder holds at most ``max_bytes`` (0: no size limit). Returns how many were deleted."""
        files = sorted(self._files())  # (mtime, size, path), oldest first
        deleted, total = 0, sum(size for _, size, _ in files)
        for mtime, size, path in files:
            too_old = max_age > 0 and now - mtime > max_age
            too_big = max_bytes > 0 and total > max_bytes
            if not (too_old or too_big):
                break  # newer files are neither older nor needed for the size
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                deleted += 1
            total -= size
        return deleted

    def _files(self) -> list[tuple[float, int, Path]]:
        found = []
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False) and not entry.name.startswith("."):
                    stat = entry.stat(follow_symlinks=False)
                    found.append((stat.st_mtime, stat.st_size, Path(entry.path)))
        return found

    def _write(self, name: str, data: bytes) -> None:
        # Write beside, then rename: a reader never sees half a file.
        tmp = self.directory / f".{name}.part"
        try:
            tmp.write_bytes(data)
            os.replace(tmp, self.directory / name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
