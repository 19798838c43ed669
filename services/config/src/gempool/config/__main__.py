"""``python -m gempool.config [reset-admin-token]``."""

import argparse
import logging
import sys

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from gempool.common.live import validation_errors
from gempool.common.logs import setup_logging
from gempool.common.runner import run
from gempool.config.cli import reset_admin_token
from gempool.config.server import serve
from gempool.config.settings import ConfigServiceSettings

log = logging.getLogger("gempool.config")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gempool.config", description="gempool config service")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("reset-admin-token", help="store a new random admin token (AUTH_TOKEN) and print it")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging("config")
    try:
        settings = ConfigServiceSettings()
    except ValidationError as exc:
        for name, message in validation_errors(exc).items():
            log.error(f"invalid {name}: {message}", extra={"setting": name})
        return 2
    setup_logging("config", settings.LOG_LEVEL)
    try:
        if args.command == "reset-admin-token":
            sys.stdout.write(reset_admin_token(settings) + "\n")
        else:
            run(serve(settings))
    except SQLAlchemyError as exc:
        log.error(f"database error: {exc.__class__.__name__}: {getattr(exc, 'orig', exc)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
