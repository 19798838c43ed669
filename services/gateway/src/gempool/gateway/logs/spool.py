"""Log batches on disk while the config service is away: one file per ``WriteLogs`` batch.

A file is named after its batch id and holds the serialized request, so a batch written twice is
one file, and a batch shipped twice (from memory and from disk, by two processes sharing the
directory, or again after a lost answer) is stored once by the config service. Files are written
to a temporary name and renamed, so a reader never sees half a batch. The directory is bounded
by ``max_bytes``: to make room the oldest batches go, with a warning and a count.

Every method blocks on the disk: the shipper calls them through ``asyncio.to_thread``.
"""

import logging
import os
import time
from pathlib import Path

from google.protobuf.message import DecodeError
from prometheus_client import CollectorRegistry, Counter, Gauge

from gempool.api.config.v1 import config_pb2

log = logging.getLogger(__name__)

SUFFIX = ".batch"
STALE_TEMP = 600.0  # seconds after which a temporary file is a crashed writer's leftover


class Spool:
    def __init__(self, directory: Path, max_bytes: int, registry: CollectorRegistry | None = None) -> None:
        self.directory, self.max_bytes = directory, max_bytes
        self._bytes = 0  # as last seen
        self.spooled = Counter(
            "gempool_gateway_logs_spooled",
            "Log records written to the disk spool while the config service was away",
            ["kind"],
            registry=registry,
        )
        self.dropped = Counter(
            "gempool_gateway_logs_spool_dropped",
            "Spooled log records deleted unshipped to keep the spool within LOG_SPOOL_MAX_MB",
            ["kind"],
            registry=registry,
        )
        # Every worker process sees the same directory: the largest view is the truth.
        self.gauge = Gauge(
            "gempool_gateway_logs_spool_bytes",
            "Bytes of log batches in the spool",
            registry=registry,
            multiprocess_mode="max",
        )
        self.gauge.set_function(lambda: self._bytes)
        for kind in ("request", "error"):  # at zero from the start, so the first one shows in rate()
            self.spooled.labels(kind)
            self.dropped.labels(kind)

    def size(self) -> int:
        """Bytes in the spool, as last seen."""
        return self._bytes

    def files(self) -> list[Path]:
        """Spooled batches, oldest first."""
        return [path for _, _, path in self._listing()]

    def write(self, batch: config_pb2.WriteLogsRequest) -> None:
        data = batch.SerializeToString()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._make_room(len(data))
        temp = self.directory / f".{batch.batch_id}.{os.getpid()}.tmp"
        with temp.open("wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        temp.replace(self.directory / f"{batch.batch_id}{SUFFIX}")
        self._bytes += len(data)
        self.spooled.labels("request").inc(len(batch.requests))
        self.spooled.labels("error").inc(len(batch.errors))

    def read(self, path: Path) -> config_pb2.WriteLogsRequest | None:
        """The batch in ``path``; None when it is gone (shipped by a peer) or unreadable (deleted)."""
        try:
            return config_pb2.WriteLogsRequest.FromString(path.read_bytes())
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("log spool file not readable", extra={"path": str(path), "error": repr(exc)})
            return None
        except DecodeError:
            log.warning("unreadable log spool file deleted", extra={"path": str(path)})
            self.remove(path)
            return None

    def remove(self, path: Path) -> None:
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:  # shipped again later: stored once all the same
            log.warning("log spool file not deleted", extra={"path": str(path), "error": repr(exc)})
            return
        self._bytes = max(0, self._bytes - size)

    def _make_room(self, incoming: int) -> None:
        listing = self._listing()
        total = sum(size for _, size, _ in listing)
        for _, size, path in listing:
            if total + incoming <= self.max_bytes:
                return
            self._drop(path)
            total -= size

    def _drop(self, path: Path) -> None:
        batch = self.read(path)
        self.remove(path)
        if batch is not None:
            self.dropped.labels("request").inc(len(batch.requests))
            self.dropped.labels("error").inc(len(batch.errors))
            log.warning(
                "log spool full; oldest batch dropped",
                extra={"requests": len(batch.requests), "errors": len(batch.errors), "limit": self.max_bytes},
            )

    def _listing(self) -> list[tuple[int, int, Path]]:
        """(mtime ns, size, path) of each batch, oldest first; stale temporary files are removed."""
        try:
            entries = list(os.scandir(self.directory))
        except FileNotFoundError:
            return []
        except OSError as exc:
            log.warning("log spool not readable", extra={"error": repr(exc)})
            return []
        listing = []
        for entry in entries:
            try:
                stat = entry.stat()
                if entry.name.endswith(SUFFIX):
                    listing.append((stat.st_mtime_ns, stat.st_size, Path(entry.path)))
                elif entry.name.endswith(".tmp") and stat.st_mtime < time.time() - STALE_TEMP:
                    os.unlink(entry.path)
            except FileNotFoundError:
                continue  # shipped and removed by a peer meanwhile
        listing.sort()
        self._bytes = sum(size for _, size, _ in listing)
        return listing
