"""``python -m gempool.gateway``: serve the gateway with uvicorn."""

import uvicorn

from gempool.common.logs import setup_logging
from gempool.gateway.app import create_app
from gempool.gateway.settings import GatewaySettings


def app_from_env() -> object:
    """Factory for uvicorn workers: each worker builds its own app from the environment."""
    return create_app(GatewaySettings())


def main() -> None:
    settings = GatewaySettings()
    setup_logging("gateway", settings.LOG_LEVEL)
    common = {
        "host": settings.HOST,
        "port": settings.PORT,
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,
        "log_config": None,
        "timeout_graceful_shutdown": 10,
    }
    if settings.GATEWAY_WORKERS > 1:
        uvicorn.run(
            "gempool.gateway.__main__:app_from_env", factory=True, workers=settings.GATEWAY_WORKERS, **common
        )
    else:
        uvicorn.run(create_app(settings), **common)


if __name__ == "__main__":
    main()
