"""``python -m gempool.imagehost``"""

from gempool.common.logs import setup_logging
from gempool.common.runner import run
from gempool.imagehost.server import serve
from gempool.imagehost.settings import ImageHostSettings


def main() -> None:
    settings = ImageHostSettings()
    setup_logging("imagehost", settings.LOG_LEVEL)
    run(serve(settings))


if __name__ == "__main__":
    main()
