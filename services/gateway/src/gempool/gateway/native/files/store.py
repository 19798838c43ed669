"""Which key holds each uploaded file, and which client token uploaded it.

A file lives in the Google project of the key that uploaded it; every later request that names it
(``fileData.fileUri``, get, delete) must use that key. Each gateway process holds the records it
reads on the request path; with ``REDIS_URL`` set, ``filesync.FileMirror`` shares them through Redis,
so every replica (and a restarted gateway) knows every file.
"""

import re
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from gempool.common.live import LiveSettings

LIFETIME = 48 * 3600.0  # what Google keeps a file when the answer does not say
_FILE_ID = re.compile(rb"files/([a-z0-9][a-z0-9-]*)")
# A field naming a file to use (Google reads camelCase and snake_case; OpenAI's chat has file_id).
_FILE_FIELD = re.compile(rb'"(?:fileUri|file_uri|file_id)"\s*:\s*"([^"]*)"')
# A Gemini Files API reference: ``files/ID`` alone or at the end of the file's URL.
_FILE_REF = re.compile(rb"(?:^|/)files/([a-z0-9][a-z0-9-]*)$")
# The only escapes that can spell a character of "files/" (f, i, l, e, s, /).
_SPELLS_FILES = re.compile(rb"\\u00(?:66|69|6[cC]|65|73|2[fF])|\\/")
_FRACTION = re.compile(r"(\.\d{6})\d+")


@dataclass
class FileRecord:
    name: str  # files/abc123
    key_id: str
    owner: str  # fingerprint of the client token that uploaded it
    file: dict[str, Any]  # Google's File object as last seen
    expires: float  # unix time


def expiry(file: dict[str, Any], now: float) -> float:
    """``expirationTime`` as unix time (Google's RFC 3339, nanoseconds allowed)."""
    text = str(file.get("expirationTime") or "")
    try:
        return datetime.fromisoformat(_FRACTION.sub(r"\1", text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return now + LIFETIME


class FileStore:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._records: dict[str, FileRecord] = {}
        self._clock = clock
        self._swept = clock()
        # Told of every change (the record, or None when forgotten), e.g. to share it.
        self.on_change: Callable[[str, FileRecord | None], None] = lambda name, record: None

    def replace(self, records: dict[str, FileRecord], keep: set[str]) -> None:
        """Adopt a shared view of every record, keeping local ones named in ``keep`` (in flight)."""
        kept = {name: self._records[name] for name in keep if name in self._records}
        self._records = {**records, **kept}

    def __len__(self) -> int:
        return len(self._records)

    def remember(self, file: dict[str, Any], key_id: str, owner: str) -> FileRecord | None:
        name = str(file.get("name") or "")
        if not name.startswith("files/") or not key_id:
            return None
        record = FileRecord(name, key_id, owner, file, expiry(file, self._clock()))
        self._records[name] = record
        self.on_change(name, record)
        return record

    def get(self, name: str) -> FileRecord | None:
        return self._records.get(name)

    def forget(self, name: str) -> None:
        self._records.pop(name, None)
        self.on_change(name, None)

    def listing(self, owner: str | None) -> list[FileRecord]:
        """Newest first; only ``owner``'s files unless owner is None."""
        found = [r for r in self._records.values() if owner is None or r.owner == owner]
        return sorted(found, key=lambda r: (str(r.file.get("createTime") or ""), r.name), reverse=True)

    def key_for(self, body: bytes) -> str:
        """The key holding the first known file a request body names; empty when none does."""
        if not self._records or b"files/" not in body:
            return ""
        for match in _FILE_ID.finditer(body):
            record = self._records.get("files/" + match.group(1).decode())
            if record is not None:
                return record.key_id
        return ""

    def refused(self, body: bytes, owner: str) -> str | None:
        """With FILES_USER_ISOLATION_ENABLED: the first file ``body`` names that ``owner`` may not use.

        That is a file another token uploaded, named anywhere, or a file field naming a Files API
        file gempool holds no record of (it cannot tell whose it is; Google would refuse it too
        on any key but its holder's). JSON escapes are undone first, so ``\\u0066iles/`` counts.
        """
        text = _unescaped(body)
        if b"files/" not in text:
            return None
        for match in _FILE_ID.finditer(text):
            record = self._records.get("files/" + match.group(1).decode())
            if record is not None and record.owner != owner:
                return record.name
        for field in _FILE_FIELD.finditer(text):
            ref = _FILE_REF.search(field.group(1))
            if ref is not None and "files/" + ref.group(1).decode() not in self._records:
                return "files/" + ref.group(1).decode()
        return None

    def sweep(self, settings: LiveSettings) -> int:
        """Forget expired records, at most once per FILES_CLEANUP_INTERVAL_HOURS."""
        now = self._clock()
        if (
            not settings.FILES_CLEANUP_ENABLED
            or now - self._swept < settings.FILES_CLEANUP_INTERVAL_HOURS * 3600
        ):
            return 0
        self._swept = now
        expired = [name for name, r in self._records.items() if r.expires <= now]
        for name in expired:
            self.forget(name)
        return len(expired)


def _unescaped(body: bytes) -> bytes:
    """The body as orjson writes it (no ``\\/`` or ``\\u`` escapes); as it was when not JSON."""
    if _SPELLS_FILES.search(body) is None:  # most bodies: no parse (non-ASCII text escapes are common)
        return body
    try:
        return orjson.dumps(orjson.loads(body))
    except orjson.JSONDecodeError:
        return body


_stores: "weakref.WeakKeyDictionary[object, FileStore]" = weakref.WeakKeyDictionary()


def store(rt: object) -> FileStore:
    """The runtime's file records (one store per gateway process)."""
    found = _stores.get(rt)
    if found is None:
        found = _stores[rt] = FileStore()
    return found
