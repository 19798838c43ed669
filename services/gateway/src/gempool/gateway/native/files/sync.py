"""File records shared through Redis, so any gateway replica can use a file another one uploaded.

The request path keeps reading the process's own ``FileStore``. Changes go to one Redis hash as they
happen, and every replica reloads the hash every ``interval`` seconds (and at start), so a file is
known everywhere within moments of its upload and survives a gateway restart. A change not yet
written is kept locally over a reload.
"""

import asyncio
import contextlib
import dataclasses
import logging

import orjson
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from gempool.common.tasks import stop_tasks
from gempool.gateway.native.files.store import FileRecord, FileStore

log = logging.getLogger(__name__)


class FileMirror:
    def __init__(self, files: FileStore, redis_url: str, prefix: str, interval: float = 2.0) -> None:
        self._files = files
        self._redis = aioredis.Redis.from_url(redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._hash = f"{prefix}files"
        self._interval = interval
        self._writing: dict[str, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        files.on_change = self._changed

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="file-mirror")

    def _changed(self, name: str, record: FileRecord | None) -> None:
        task = asyncio.get_running_loop().create_task(self._write(name, record))
        self._writing[name] = task
        task.add_done_callback(
            lambda done: self._writing.pop(name, None) if self._writing.get(name) is done else None
        )

    async def _write(self, name: str, record: FileRecord | None) -> None:
        try:
            if record is None:
                await self._redis.hdel(self._hash, name)
            else:
                await self._redis.hset(self._hash, name, orjson.dumps(dataclasses.asdict(record)))
        except RedisError as exc:
            log.warning("file record not shared", extra={"file": name, "error": type(exc).__name__})

    async def load(self) -> None:
        raw = await self._redis.hgetall(self._hash)
        records: dict[str, FileRecord] = {}
        for name, value in raw.items():
            with contextlib.suppress(ValueError, TypeError):
                key = name.decode() if isinstance(name, bytes) else name
                records[key] = FileRecord(**orjson.loads(value))
        self._files.replace(records, keep=set(self._writing))

    async def _run(self) -> None:
        while True:
            try:
                await self.load()
            except RedisError as exc:
                log.warning("file records not reloaded", extra={"error": type(exc).__name__})
            await asyncio.sleep(self._interval)

    async def close(self) -> None:
        await stop_tasks(self._task)
        if self._writing:
            await asyncio.gather(*self._writing.values(), return_exceptions=True)
        await self._redis.aclose()
