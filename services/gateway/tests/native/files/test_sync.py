"""File records shared through Redis: one replica's upload is known to the others and survives."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis import asyncio as aioredis

from gempool.gateway.native.files.store import FileStore
from gempool.gateway.native.files.sync import FileMirror

REDIS = "redis://127.0.0.1:6379/0"
FILE = {"name": "files/abc123", "expirationTime": "2099-01-01T00:00:00.123456789Z", "mimeType": "text/plain"}


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    name = f"gempool-test-{uuid.uuid4().hex[:10]}:"
    yield name
    client = aioredis.Redis.from_url(REDIS)
    await client.delete(f"{name}files")
    await client.aclose()


async def replica(prefix: str) -> tuple[FileStore, FileMirror]:
    files = FileStore()
    mirror = FileMirror(files, REDIS, prefix, interval=3600)
    await mirror.load()
    return files, mirror


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0.01)


async def test_an_upload_through_one_replica_is_known_to_another(prefix: str) -> None:
    (a, mirror_a), (b, mirror_b) = await replica(prefix), await replica(prefix)
    a.remember(FILE, "key-1", "owner-1")
    await settle()
    await mirror_b.load()
    record = b.get("files/abc123")
    assert record is not None and (record.key_id, record.owner) == ("key-1", "owner-1")
    assert b.key_for(b'{"fileData": {"fileUri": "https://x/v1beta/files/abc123"}}') == "key-1"
    a.forget("files/abc123")
    await settle()
    await mirror_b.load()
    assert b.get("files/abc123") is None
    await mirror_a.close()
    await mirror_b.close()


async def test_a_restarted_gateway_still_knows_its_files(prefix: str) -> None:
    first, mirror = await replica(prefix)
    first.remember(FILE, "key-9", "owner-9")
    await mirror.close()  # waits for the write
    again, mirror_again = await replica(prefix)
    assert again.key_for(b"files/abc123") == "key-9"
    await mirror_again.close()


async def test_a_record_being_written_survives_a_reload(prefix: str) -> None:
    files, mirror = await replica(prefix)
    files.remember(FILE, "key-2", "owner-2")  # the write is still in flight
    await mirror.load()
    assert files.get("files/abc123") is not None
    await mirror.close()
