"""Export then import into an empty database gives back every setting, key and token."""

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gempool.api.config.v1 import config_pb2
from gempool.common.keys import key_id
from gempool.config import transfer
from gempool.config.db import make_engine
from gempool.config.store import Store

from .conftest import pg_database

KEYS = [f"AIzaSyEXPORT{n:023d}" for n in range(3)]


@pytest.fixture
def other_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second database on the same backend."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other.db'}"
        return
    with pg_database() as url:
        yield url


@pytest.fixture
def other_store(other_url: str) -> Iterator[Store]:
    engine = make_engine(other_url)
    store = Store(engine)
    store.prepare({"AUTH_TOKEN": "someone-else"})
    yield store
    engine.dispose()


def exported(store: Store) -> dict[str, Any]:
    document = store.run(transfer.export_document)
    document.pop("exported_at")
    return document


def test_round_trip(make_store: Callable[..., Store], other_store: Store) -> None:
    store = make_store({"AUTH_TOKEN": "admin-1", "ALLOWED_TOKENS": "team-token", "API_KEYS": ",".join(KEYS)})
    assert store.update_settings({"MAX_RETRIES": "7", "PROXIES": '["socks5://p:1080"]'}, "al") == {}
    store.set_key_status(key_id(KEYS[1]), "disabled", "by hand")
    request = config_pb2.CreateTokenRequest(name="team-x", allowed_models=["gemini-2.5-pro"], rpm_limit=9)
    store.create_token(request)
    original = exported(store)

    reply = other_store.import_document(json.dumps(original).encode(), "al")
    assert list(reply.errors) == []
    assert (reply.keys_added, reply.tokens_added) == (3, 2)
    assert exported(other_store) == original
    assert original["settings"]["MAX_RETRIES"] == 7 and KEYS[0] in json.dumps(original["keys"])
    again = other_store.import_document(json.dumps(original).encode(), "al")
    assert (again.settings_changed, again.keys_added, again.keys_updated, again.tokens_added) == (0, 0, 0, 0)


BAD: dict[str, dict[str, Any]] = {
    "document": {"format": "other"},
    "MAX_RETRIES": {"settings": {"MAX_RETRIES": "lots"}},
    "keys[0]": {"keys": [{"api_key": "AIzaSyNEW0000000000000000000", "status": "sleeping"}]},
    "tokens[0]": {"tokens": [{"name": "team-token-owner", "digest": "f" * 64}]},  # the name is taken
}


def test_bad_import_stores_nothing(make_store: Callable[..., Store]) -> None:
    store = make_store({"AUTH_TOKEN": "admin-1"})
    store.create_token(config_pb2.CreateTokenRequest(name="team-token-owner"))
    before = exported(store)
    for error, change in BAD.items():
        document = {**before, "settings": {"MAX_RETRIES": 9}, **change}
        reply = store.import_document(json.dumps(document).encode(), "al")
        assert [e.name for e in reply.errors] == [error]
        assert exported(store) == before
