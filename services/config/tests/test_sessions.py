"""Admin sessions: stored as digests, expire, end on logout and whenever the admin token changes."""

import time
from collections.abc import Callable

from gempool.config import sessions
from gempool.config.store import Store

DIGEST_A, DIGEST_B = "a" * 64, "b" * 64


def test_session_lifecycle(make_store: Callable[..., Store]) -> None:
    store = make_store()
    expires = store.run(sessions.create, DIGEST_A, 3600, "10.0.0.1")
    store.run(sessions.create, DIGEST_B, 0.2, "10.0.0.2")
    assert abs(expires.timestamp() - (time.time() + 3600)) < 5
    assert store.run(sessions.check, DIGEST_A) == expires
    assert store.run(sessions.check, DIGEST_B) is not None
    time.sleep(0.3)
    assert store.run(sessions.check, DIGEST_B) is None  # expired
    assert store.run(sessions.purge_expired) == 1
    assert store.run(sessions.remove, DIGEST_A) and not store.run(sessions.remove, DIGEST_A)
    assert store.run(sessions.check, DIGEST_A) is None
    assert store.run(sessions.check, "c" * 64) is None


def test_a_new_admin_token_ends_every_session(make_store: Callable[..., Store]) -> None:
    store = make_store()
    store.run(sessions.create, DIGEST_A, 3600, "")
    assert store.update_settings({"MAX_RETRIES": "5"}, "al") == {}
    assert store.run(sessions.check, DIGEST_A) is not None  # other settings leave sessions alone
    assert store.update_settings({"AUTH_TOKEN": '"new-admin-token"'}, "al") == {}
    assert store.run(sessions.check, DIGEST_A) is None
    store.run(sessions.create, DIGEST_B, 3600, "")
    store.set_admin_token("from-the-cli", "cli")
    assert store.run(sessions.check, DIGEST_B) is None
