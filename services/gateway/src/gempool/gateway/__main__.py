"""``python -m gempool.gateway``: serve the gateway with uvicorn."""

import logging
import math
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.supervisors.multiprocess import Multiprocess

from gempool.common.logs import setup_logging
from gempool.gateway.app import create_app
from gempool.gateway.connections import PROTOCOL_PATH, ConnectionLimits, GuardedProtocol
from gempool.gateway.exposition import prepare_workers_dir
from gempool.gateway.settings import GatewaySettings
from gempool.gateway.shutdown import BACKSTOP

log = logging.getLogger("gempool.gateway")


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers: each worker builds its own app from the environment (and its
    own logging: a worker process does not inherit the parent's handler and scrubbing formatter)."""
    settings = GatewaySettings()
    setup_logging("gateway", settings.LOG_LEVEL)
    return create_app(settings, handle_signals=True)


def proxy_options(settings: GatewaySettings) -> dict[str, Any]:
    """uvicorn believes X-Forwarded-For (the client address every throttle counts) only from the
    proxies FORWARDED_ALLOW_IPS names; uvicorn alone would believe it from 127.0.0.1, so anything
    on the gateway's host (a sidecar, another user) could pick any address and dodge the lockouts."""
    allowed = settings.FORWARDED_ALLOW_IPS.strip()
    return {"proxy_headers": bool(allowed), "forwarded_allow_ips": allowed or None}


def main() -> None:
    settings = GatewaySettings()
    setup_logging("gateway", settings.LOG_LEVEL)
    if not settings.INTERNAL_TOKEN:
        log.warning(
            "INTERNAL_TOKEN is empty: the keypool, config and imagehost services refuse the gateway's calls "
            "unless they too run without one (on loopback only)"
        )
    workers = settings.GATEWAY_WORKERS if settings.GATEWAY_WORKERS > 1 else None
    if workers and not settings.REDIS_URL:
        log.warning(
            "GATEWAY_WORKERS > 1 without REDIS_URL: each worker keeps its own request limits, sign-in "
            "throttling and uploaded-file records; set REDIS_URL to share them"
        )
    options: dict[str, Any] = {
        "host": settings.HOST,
        "port": settings.PORT,
        "loop": "uvloop",
        "timeout_keep_alive": settings.HTTP_KEEP_ALIVE_TIMEOUT,
        "access_log": False,
        "log_config": None,
        # The drain ends what runs at the grace (see shutdown); uvicorn's own timeout is a backstop.
        "timeout_graceful_shutdown": math.ceil(settings.GATEWAY_SHUTDOWN_GRACE_SECONDS + BACKSTOP),
        **proxy_options(settings),
    }
    if not workers:
        protocol = GuardedProtocol.with_limits(ConnectionLimits.of(settings))
        uvicorn.run(create_app(settings, handle_signals=True), http=protocol, **options)
        return
    prepare_workers_dir()  # /metrics adds up every worker's values
    # Several workers each build their own app, so they get the factory's import path.
    # The worker processes import the protocol, which reads its limits from the environment.
    config = uvicorn.Config(
        "gempool.gateway.__main__:app_from_env", factory=True, workers=workers, http=PROTOCOL_PATH, **options
    )
    Supervisor(config, sockets=[config.bind_socket()]).run()


class Supervisor(Multiprocess):
    """uvicorn's worker supervisor, letting go of its copy of the listening socket as it stops:
    otherwise the kernel keeps accepting connections that no worker serves until the last one ends."""

    def terminate_all(self) -> None:
        for sock in self.sockets:
            sock.close()
        super().terminate_all()


if __name__ == "__main__":
    main()
