"""``python -m gempool.config reset-admin-token``: for an admin who lost the token."""

import logging

from gempool.config.db import make_engine
from gempool.config.seed import new_admin_token, read_env, write_admin_token
from gempool.config.settings import ConfigServiceSettings
from gempool.config.store import Store

log = logging.getLogger(__name__)

ACTOR = "cli:reset-admin-token"


def reset_admin_token(settings: ConfigServiceSettings) -> str:
    """Store a new random AUTH_TOKEN (running replicas pick it up within a poll) and return it."""
    store = Store(make_engine(settings.DATABASE_URL))
    try:
        store.prepare(read_env())
        token = new_admin_token()
        store.set_admin_token(token, ACTOR)
    finally:
        store.close()
    try:
        write_admin_token(settings.ADMIN_TOKEN_FILE, token)
    except OSError as exc:
        log.warning(f"could not write {settings.ADMIN_TOKEN_FILE} ({exc.strerror})")
    log.info(f"admin token reset; also written to {settings.ADMIN_TOKEN_FILE}")
    return token
