"""``python -m gempool.keypool``: serve KeyPoolService until SIGINT/SIGTERM."""

from gempool.common.logs import setup_logging
from gempool.common.runner import run
from gempool.common.settings import load

from .server import serve
from .settings import KeyPoolSettings


def main() -> None:
    setup_logging("keypool")
    settings = load(KeyPoolSettings, "keypool")
    setup_logging("keypool", settings.LOG_LEVEL)
    run(serve(settings))


if __name__ == "__main__":
    main()
