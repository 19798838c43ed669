"""``python -m gempool.gateway``: serve the gateway with uvicorn."""

import logging

import uvicorn
from fastapi import FastAPI

from gempool.common.logs import setup_logging
from gempool.gateway.app import create_app
from gempool.gateway.exposition import prepare_workers_dir
from gempool.gateway.settings import GatewaySettings

log = logging.getLogger("gempool.gateway")


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers: each worker builds its own app from the environment."""
    return create_app(GatewaySettings())


def main() -> None:
    settings = GatewaySettings()
    setup_logging("gateway", settings.LOG_LEVEL)
    workers = settings.GATEWAY_WORKERS if settings.GATEWAY_WORKERS > 1 else None
    if workers and not settings.REDIS_URL:
        log.warning(
            "GATEWAY_WORKERS > 1 without REDIS_URL: each worker keeps its own request limits, sign-in "
            "throttling and uploaded-file records; set REDIS_URL to share them"
        )
    if workers:
        prepare_workers_dir()  # /metrics adds up every worker's values
    uvicorn.run(
        # Several workers each build their own app, so they get the factory's import path.
        "gempool.gateway.__main__:app_from_env" if workers else create_app(settings),
        factory=workers is not None,
        workers=workers,
        host=settings.HOST,
        port=settings.PORT,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
