"""First start: live settings and key records from the environment. Later starts: the database wins."""

import json
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values
from sqlalchemy.orm import Session

from gempool.common.digests import digest_of, shown
from gempool.common.keys import key_id, mask
from gempool.common.live import KEY_SETTINGS, LiveSettings, SettingError, parse_key_list, split_list, validate
from gempool.config import keystore, tokenstore
from gempool.config.revisions import DEFAULTS, bump, current_settings, stored_values, write_setting
from gempool.config.settingsinfo import env_differences

log = logging.getLogger(__name__)

SEED_ACTOR = "seed"
KEY_KINDS = {"API_KEYS": "free", "VERTEX_API_KEYS": "vertex"}


def read_env(env_file: str | Path | None = ".env") -> dict[str, str]:
    """Live and key settings as pydantic-settings would read them: ``.env``, overridden by the process env."""
    names = set(DEFAULTS) | set(KEY_SETTINGS)
    found: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        found |= {k.upper(): v for k, v in dotenv_values(env_file).items() if v is not None}
    found |= {k.upper(): v for k, v in os.environ.items()}
    return {k: v for k, v in found.items() if k in names}


def new_admin_token() -> str:
    return secrets.token_urlsafe(32)


def settings_from_env(env: Mapping[str, str]) -> tuple[LiveSettings, set[str]]:
    """Valid env values over the defaults, and the names taken; a bad value logs one line and is skipped."""
    current, taken = LiveSettings(), set()
    for name in sorted(set(env) & set(DEFAULTS)):
        try:
            current = validate(current, {name: env[name]})
        except SettingError as exc:
            log.error(
                f"invalid {name} in the environment: {exc.errors.get(name, exc)}; "
                f"keeping the default {DEFAULTS[name]}",
                extra={"setting": name},
            )
            continue
        taken.add(name)
    return current, taken


def seed(session: Session, env: Mapping[str, str]) -> str | None:
    """Seed what the database lacks; returns the admin token when one had to be generated."""
    stored = stored_values(session)
    first = not stored
    if first:
        log.info("empty database: seeding settings and keys from the environment")
        seed_keys(session, env)
    else:
        report_env_differences(session, stored, env)
    seed_settings(session, env, missing=set(DEFAULTS) - set(stored))
    seed_tokens(session, env)
    return ensure_admin_token(session)


def seed_settings(session: Session, env: Mapping[str, str], missing: set[str]) -> None:
    if not missing:
        return
    settings, taken = settings_from_env({k: v for k, v in env.items() if k in missing})
    wire = settings.to_wire()
    for name in sorted(missing):
        source = "env" if name in taken else "default"
        write_setting(session, name, wire[name], source=source, actor=SEED_ACTOR)
    bump(session, settings=True)
    log.info("seeded settings", extra={"from_env": sorted(taken), "defaults": len(missing - taken)})


def env_keys(env: Mapping[str, str]) -> list[keystore.KeyInput]:
    keys: list[keystore.KeyInput] = []
    for name, kind in KEY_KINDS.items():
        try:
            keys += [keystore.KeyInput(k, kind) for k in parse_key_list(name, env.get(name, ""))]
        except SettingError as exc:
            log.error(f"invalid {name} in the environment: {exc.errors[name]}; no keys taken from it")
    if paid := env.get("PAID_KEY", "").strip():
        keys.append(keystore.KeyInput(paid, "paid"))
    return keys


def seed_keys(session: Session, env: Mapping[str, str]) -> None:
    keys = env_keys(env)
    if not keys:
        return
    added, existing = keystore.add_keys(session, keys)
    bump(session, keys=True)
    log.info("seeded keys", extra={"added": added, "duplicates": len(keys) - added})


def report_env_differences(session: Session, stored: Mapping[str, str], env: Mapping[str, str]) -> None:
    """Name (never show) env values the database overrides, and env keys it does not hold."""
    differ = env_differences(stored, {k: v for k, v in env.items() if k in stored})
    if differ:
        log.info("environment differs from the database; the database wins", extra={"settings": differ})
    known = keystore.all_key_ids(session)
    unknown = {key_id(k.api_key) for k in env_keys(env)} - known
    if unknown:
        log.info("env keys missing from the database were ignored", extra={"count": len(unknown)})


def seed_tokens(session: Session, env: Mapping[str, str]) -> None:
    """Token records for the ALLOWED_TOKENS stored that have none yet.

    The settings hold digests; the environment's plaintext, where it is at hand, gives each record
    its hint (as a created token's)."""
    listed = current_settings(session).ALLOWED_TOKENS
    try:
        plain = split_list(env.get("ALLOWED_TOKENS", ""))
    except ValueError:
        plain = []
    hints = {digest_of(t): mask(t) for t in plain if isinstance(t, str) and t}
    if added := tokenstore.adopt(session, [(d, hints.get(d) or shown(d)) for d in listed]):
        bump(session, tokens=True)
        log.info("seeded token records from ALLOWED_TOKENS", extra={"tokens": added})


def ensure_admin_token(session: Session) -> str | None:
    """Generate AUTH_TOKEN when it is empty (client tokens are never promoted to admin)."""
    if json.loads(stored_values(session).get("AUTH_TOKEN", '""')):
        return None
    token = new_admin_token()  # shown once (file, log line); only its digest is stored
    write_setting(session, "AUTH_TOKEN", json.dumps(digest_of(token)), source="generated", actor=SEED_ACTOR)
    bump(session, settings=True)
    return token


def write_admin_token(path: Path, token: str) -> None:
    """Write the token readable by the owner only (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        os.fchmod(file.fileno(), 0o600)
        file.write(token + "\n")
