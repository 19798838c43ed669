from collections.abc import Callable

import pytest
from pydantic import ValidationError
from sqlalchemy import select, update

from gempool.config.models import Setting
from gempool.config.revisions import current_settings
from gempool.config.settings import ConfigServiceSettings
from gempool.config.store import Store


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/gp", "postgresql+psycopg://u:p@db:5432/gp"),
        ("postgresql://u@db/gp", "postgresql+psycopg://u@db/gp"),
        ("postgresql+psycopg://u@db/gp", "postgresql+psycopg://u@db/gp"),
        ("sqlite:///./data/x.db", "sqlite:///./data/x.db"),
    ],
)
def test_database_url_uses_psycopg(given: str, expected: str) -> None:
    settings = ConfigServiceSettings(_env_file=None, DATABASE_URL=given)  # type: ignore[call-arg]
    assert settings.DATABASE_URL == expected


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "CONFIG_PORT", "CONFIG_METRICS_PORT", "ADMIN_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    settings = ConfigServiceSettings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.CONFIG_PORT, settings.CONFIG_METRICS_PORT) == (50052, 9102)
    assert settings.DATABASE_URL == "sqlite:///./data/gempool.db"
    assert str(settings.ADMIN_TOKEN_FILE) == "data/admin_token"


def test_other_databases_are_refused() -> None:
    with pytest.raises(ValidationError, match="sqlite:///path or postgresql://"):
        ConfigServiceSettings(_env_file=None, DATABASE_URL="mysql://u@db/gp")  # type: ignore[call-arg]


def test_a_stored_value_a_newer_schema_refuses_blocks_nothing(make_store: Callable[..., Store]) -> None:
    """After an upgrade that validates a setting more strictly, the other settings still change,
    and the refused one can be set right."""
    store = make_store()
    store.run(lambda s: s.execute(update(Setting).where(Setting.name == "TTS_SPEED").values(value='"brisk"')))
    assert store.update_settings({"MAX_RETRIES": "6"}, "al") == {}
    assert store.run(lambda s: current_settings(s).MAX_RETRIES) == 6
    stored = store.run(lambda s: s.scalar(select(Setting.value).where(Setting.name == "TTS_SPEED")))
    assert stored == '"brisk"'  # left as stored until someone sets it
    assert store.update_settings({"TTS_SPEED": '"fast"'}, "al") == {}
    assert store.run(lambda s: current_settings(s).TTS_SPEED) == "fast"
