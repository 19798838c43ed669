"""Structured (JSON) logging shared by every service.

Every line is scrubbed of Google key shapes (:mod:`gempool.common.scrub`) as it is written, so no
message, extra field or traceback can print a whole key, whoever logged it.
"""

import logging
import sys
import time
from typing import Any

import orjson

from gempool.common.scrub import scrub

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name, value in record.__dict__.items():
            if name not in _RESERVED and not name.startswith("_"):
                out[name] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return scrub(orjson.dumps(out, default=str).decode())


def setup_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    set_level(level)


def set_level(level: str) -> None:
    """Applied live when LOG_LEVEL changes."""
    logging.getLogger().setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "hpack", "grpc"):
        logging.getLogger(noisy).setLevel(max(logging.getLogger().level, logging.WARNING))
