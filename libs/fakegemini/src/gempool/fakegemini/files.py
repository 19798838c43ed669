"""The Files API as Google serves it: resumable and multipart uploads, list, get, delete.

A file lives in the project of the key that uploaded it: another key gets 403 PERMISSION_DENIED
for it, on the Files API and when a prompt references it (``fileData.fileUri``).
"""

import base64
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import orjson

from gempool.fakegemini import errors

GRANULARITY = 8 * 1024 * 1024
LIFETIME = timedelta(hours=48)


def _either(obj: dict[str, Any], camel: str, snake: str) -> Any:
    """Google reads proto JSON: lowerCamelCase and snake_case field names alike."""
    return obj.get(camel, obj.get(snake))


def _body(part: Message) -> bytes:
    """A leaf part's decoded body; empty for a nested multipart (whose payload decodes to None)."""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Session:
    key: str
    metadata: dict[str, Any]
    size: int
    mime_type: str
    data: bytearray = field(default_factory=bytearray)


@dataclass
class FileStore:
    base_url: str = "http://127.0.0.1"
    files: dict[str, tuple[str, dict[str, Any], bytes]] = field(default_factory=dict)  # id -> key, file, data
    sessions: dict[str, Session] = field(default_factory=dict)

    # ---- upload

    def start(
        self, key: str, body: bytes, headers: dict[str, str], version: str
    ) -> tuple[int, bytes, dict[str, str]]:
        metadata = (orjson.loads(body) if body else {}).get("file") or {}
        upload_id = uuid.uuid4().hex
        self.sessions[upload_id] = Session(
            key=key,
            metadata=metadata,
            size=int(headers.get("x-goog-upload-header-content-length", "0") or 0),
            mime_type=headers.get("x-goog-upload-header-content-type", "")
            or _either(metadata, "mimeType", "mime_type")
            or "application/octet-stream",
        )
        url = f"{self.base_url}/upload/{version}/files?upload_id={upload_id}&upload_protocol=resumable"
        return (
            200,
            b"",
            {
                "x-goog-upload-url": url,
                "x-goog-upload-status": "active",
                "x-goog-upload-chunk-granularity": str(GRANULARITY),
                "x-goog-upload-control-url": url,
            },
        )

    def chunk(
        self, upload_id: str, body: bytes, headers: dict[str, str], version: str
    ) -> tuple[int, bytes, dict[str, str]]:
        session = self.sessions.get(upload_id)
        if session is None:
            return *errors.not_found(f"Upload session {upload_id} not found."), {}
        command = headers.get("x-goog-upload-command", "")
        offset = int(headers.get("x-goog-upload-offset", "-1") or -1)
        if "upload" in command:
            if offset != len(session.data):
                return *errors.bad_request(f"Invalid upload offset {offset}."), {}
            session.data += body
        if "finalize" not in command:
            return (
                200,
                b"",
                {"x-goog-upload-status": "active", "x-goog-upload-size-received": str(len(session.data))},
            )
        del self.sessions[upload_id]
        file = self.create(session.key, session.metadata, bytes(session.data), session.mime_type, version)
        return 200, orjson.dumps({"file": file}), {"x-goog-upload-status": "final"}

    def multipart(
        self, key: str, body: bytes, content_type: str, version: str
    ) -> tuple[int, bytes, dict[str, str]]:
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        parts = list(message.iter_parts()) if message.is_multipart() else []
        if len(parts) != 2:
            return *errors.bad_request("Multipart upload needs a metadata part and a media part."), {}
        metadata = orjson.loads(_body(parts[0]) or b"{}").get("file") or {}
        data = _body(parts[1])
        mime = _either(metadata, "mimeType", "mime_type") or parts[1].get_content_type()
        file = self.create(key, metadata, data, mime, version)
        return 200, orjson.dumps({"file": file}), {"x-goog-upload-status": "final"}

    def create(
        self, key: str, metadata: dict[str, Any], data: bytes, mime_type: str, version: str
    ) -> dict[str, Any]:
        file_id = str(metadata.get("name") or "").removeprefix("files/") or uuid.uuid4().hex[:12]
        now = datetime.now(UTC)
        file = {
            "name": f"files/{file_id}",
            "mimeType": mime_type,
            "sizeBytes": str(len(data)),
            "createTime": _stamp(now),
            "updateTime": _stamp(now),
            "expirationTime": _stamp(now + LIFETIME),
            "sha256Hash": base64.b64encode(hashlib.sha256(data).hexdigest().encode()).decode(),
            "uri": f"{self.base_url}/{version}/files/{file_id}",
            "state": "ACTIVE",
            "source": "UPLOADED",
        }
        if display := _either(metadata, "displayName", "display_name"):
            file["displayName"] = display
        self.files[file_id] = (key, file, data)
        return file

    # ---- the rest of the API

    def owned(self, key: str, file_id: str) -> dict[str, Any] | None:
        found = self.files.get(file_id)
        return found[1] if found is not None and found[0] == key else None

    def listing(self, key: str, page_size: int, page_token: str) -> dict[str, Any]:
        mine = [f for k, f, _ in self.files.values() if k == key]
        start = int(page_token or 0)
        page: dict[str, Any] = {"files": mine[start : start + page_size]} if mine else {}
        if start + page_size < len(mine):
            page["nextPageToken"] = str(start + page_size)
        return page

    def delete(self, key: str, file_id: str) -> bool:
        if self.owned(key, file_id) is None:
            return False
        del self.files[file_id]
        return True

    def foreign_file(self, key: str, body: Any) -> str | None:
        """The first file a prompt references that this key's project does not hold."""
        for uri in _file_uris(body):
            file_id = uri.rsplit("/files/", 1)[-1]
            if self.owned(key, file_id) is None:
                return file_id
        return None


def _file_uris(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [v for k, v in node.items() if k in ("fileUri", "file_uri") and isinstance(v, str)]
        return found + [u for v in node.values() for u in _file_uris(v)]
    if isinstance(node, list):
        return [u for v in node for u in _file_uris(v)]
    return []


def no_access(file_id: str) -> tuple[int, bytes]:
    return 403, errors.body(
        403,
        "PERMISSION_DENIED",
        f"You do not have permission to access the File {file_id} or it may not exist.",
    )
