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

    def _write(self, name: str, data: bytes) -> None:
        # Write beside, then rename: a reader never sees half a file.
        tmp = self.directory / f".{name}.part"
        try:
            tmp.write_bytes(data)
            os.replace(tmp, self.directory / name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
