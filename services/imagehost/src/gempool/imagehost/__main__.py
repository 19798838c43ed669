"""``python -m gempool.imagehost``"""

from gempool.common.logs import setup_logging
from gempool.common.runner import run
from gempool.common.settings import load
from gempool.imagehost.server import serve
from gempool.imagehost.settings import ImageHostSettings


def main() -> None:
    setup_logging("imagehost")
    settings = load(ImageHostSettings, "imagehost")
    setup_logging("imagehost", settings.LOG_LEVEL)
    run(serve(settings))


if __name__ == "__main__":
    main()
