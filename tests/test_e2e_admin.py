"""The admin API and team tokens end to end: four service processes on PostgreSQL and Redis, the
fake Gemini upstream, the google-genai SDK as a team would use it, and plain HTTP as the panel does."""

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from google import genai
from google.genai import errors, types

from gempool.common.devstack import Stack
from gempool.common.digests import digest_of
from gempool.fakegemini.server import Running

from .conftest import StackFactory

ADMIN = "admin-secret-token-e2e"
TEAM = "team-token-1"
KEYS = ["ok-alpha-key-0001", "ok-beta-key-0002", "invalid-gamma-key-0003"]
BEARER = {"authorization": f"Bearer {ADMIN}"}

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def env(upstream: Running, pg_url: str, redis_prefix: str) -> dict[str, str]:
    return {
        "API_KEYS": ",".join(KEYS),
        "ALLOWED_TOKENS": TEAM,
        "AUTH_TOKEN": ADMIN,
        "BASE_URL": f"{upstream.url}/v1beta",
        "DATABASE_URL": pg_url,
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "REDIS_PREFIX": redis_prefix,
        "MAX_RETRIES": "3",
        "LOG_FLUSH_SECONDS": "0.2",
        "FORWARDED_ALLOW_IPS": "127.0.0.1",  # the tests act as a local reverse proxy (see sign_in)
    }


@pytest.fixture(scope="module")
def stack(make_stack: StackFactory, env: dict[str, str]) -> Stack:
    return make_stack(env, expect_keys=len(KEYS))


@pytest.fixture
def admin(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{stack.gateway_url}/api/admin", headers=BEARER, timeout=30) as client:
        yield client


def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """``check()``'s first truthy result, retried until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def generate(stack: Stack, token: str, model: str = "gemini-2.5-flash", text: str = "hi") -> httpx.Response:
    url = f"{stack.gateway_url}/v1beta/models/{model}:generateContent"
    body = {"contents": [{"parts": [{"text": text}]}]}
    return httpx.post(url, headers={"x-goog-api-key": token}, json=body, timeout=30)


def sdk(stack: Stack, token: str) -> genai.Client:
    return genai.Client(api_key=token, http_options=types.HttpOptions(base_url=stack.gateway_url))


def test_admin_api_needs_a_session_or_the_token(stack: Stack) -> None:
    base = f"{stack.gateway_url}/api/admin"
    assert httpx.get(f"{base}/settings").status_code == 401
    assert httpx.get(f"{base}/keys", headers={"authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(f"{base}/keys", headers={"x-goog-api-key": ADMIN}).status_code == 401
    assert httpx.post(f"{base}/keys/reset", json={}).status_code == 401
    assert httpx.post(f"{base}/login", json={"token": TEAM}).status_code == 401  # a team token is no admin
    assert httpx.get(f"{base}/session", headers=BEARER).json()["via"] == "bearer"

    with httpx.Client(base_url=base) as browser:
        login = browser.post("/login", json={"token": ADMIN})
        assert login.status_code == 200
        cookie = login.headers["set-cookie"]
        assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
        assert ADMIN not in cookie and "Max-Age=3600" in cookie
        assert browser.get("/session").json()["via"] == "session"
        stolen = dict(browser.cookies)
        assert browser.post("/logout").status_code == 204
        assert browser.get("/settings").status_code == 401
    assert httpx.get(f"{base}/settings", cookies=stolen).status_code == 401  # the session is over

    preflight = httpx.options(
        f"{base}/settings",
        headers={"origin": "https://evil.example", "access-control-request-method": "GET"},
    )
    assert "access-control-allow-credentials" not in preflight.headers
    assert "access-control-allow-origin" not in preflight.headers


def test_settings_change_reaches_the_gateway_live_and_rolls_back(stack: Stack, admin: httpx.Client) -> None:
    assert generate(stack, "fresh-token").status_code == 401
    changed = admin.patch("/settings", json={"values": {"ALLOWED_TOKENS": [TEAM, "fresh-token"]}})
    assert changed.status_code == 200, changed.text
    assert eventually(lambda: generate(stack, "fresh-token").status_code == 200)

    refused = admin.patch(
        "/settings", json={"values": {"MAX_RETRIES": "lots", "TIME_OUT": -1, "MAX_FAILURES": 9}}
    )
    assert refused.status_code == 422
    assert sorted(e["name"] for e in refused.json()["detail"]) == ["MAX_RETRIES", "TIME_OUT"]

    shown = {s["name"]: s for s in admin.get("/settings").json()["settings"]}
    listed = shown["ALLOWED_TOKENS"]
    assert listed["source"] == "admin" and listed["secret"] and listed["env_differs"]
    assert "fresh-token" not in json.dumps(shown) and ADMIN not in json.dumps(shown)
    assert shown["MAX_FAILURES"]["value"] == 3  # nothing of a refused update is stored
    assert not shown["MAX_RETRIES"]["env_differs"] and shown["MAX_RETRIES"]["group"] == "upstream"

    history = admin.get("/settings/history", params={"name": "ALLOWED_TOKENS"}).json()["changes"]
    assert [c["actor"] for c in history][-1] == "seed" and history[0]["actor"].startswith("admin:bearer@")
    rolled = admin.post("/settings/rollback", json={"change_id": history[-1]["id"]})
    assert rolled.status_code == 200
    assert eventually(lambda: generate(stack, "fresh-token").status_code == 401)
    assert admin.post("/settings/rollback", json={"change_id": 10**9}).status_code == 404


def test_settings_that_will_not_work_together_are_explained_in_place(admin: httpx.Client) -> None:
    def advice() -> dict[str, str]:
        return {a["setting"]: a["message"] for a in admin.get("/settings").json()["advice"]}

    assert advice() == {}
    assert admin.patch("/settings", json={"values": {"UPLOAD_PROVIDER": "smms"}}).status_code == 200
    assert "local provider" in advice()["SMMS_SECRET_TOKEN"]
    fixed = {"UPLOAD_PROVIDER": "smms", "SMMS_SECRET_TOKEN": "sm-token"}
    assert admin.patch("/settings", json={"values": fixed}).status_code == 200
    assert advice() == {}
    assert admin.patch("/settings", json={"values": {"UPLOAD_PROVIDER": "local"}}).status_code == 200


def test_team_token_created_once_then_used_with_the_sdk(stack: Stack, admin: httpx.Client) -> None:
    created = admin.post("/tokens", json={"name": "team-sdk", "allowed_models": ["gemini-2.5-flash"]})
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    team = sdk(stack, secret)
    reply = eventually(
        lambda: (
            generate(stack, secret).status_code == 200
            and team.models.generate_content(model="gemini-2.5-flash", contents="from the sdk")
        )
    )
    assert reply and reply.text.startswith("Echo: from the sdk")
    with pytest.raises(errors.ClientError) as refused:
        team.models.generate_content(model="gemini-2.5-pro", contents="not allowed")
    assert refused.value.code == 403

    tokens = {t["name"]: t for t in admin.get("/tokens").json()}
    assert secret not in json.dumps(tokens) and tokens["team-sdk"]["hint"] == f"{secret[:4]}...{secret[-4:]}"
    assert tokens["allowed-token-1"]["hint"] == "***(12)"  # seeded from ALLOWED_TOKENS

    def logged() -> list[dict[str, Any]]:
        reply = admin.get("/logs/requests", params={"token": "team-sdk"})
        entries: list[dict[str, Any]] = reply.json()["entries"]
        return entries

    entries = eventually(lambda: len(logged()) >= 3 and logged())
    by_status = sorted(e["status"] for e in entries)
    assert by_status == [200, 200, 403]
    ok = next(e for e in entries if e["status"] == 200)
    assert ok["model"] == "gemini-2.5-flash" and ok["tokens_out"] > 0 and ok["key_masked"].startswith("ok-")
    assert eventually(lambda: admin.get("/tokens").json()[-1]["last_used_at"])

    off = admin.patch(f"/tokens/{tokens['team-sdk']['id']}", json={"enabled": False})
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert eventually(lambda: generate(stack, secret).status_code == 401)


@pytest.fixture(scope="module")
def other(make_stack: StackFactory, stack: Stack, env: dict[str, str]) -> Stack:
    """One more keypool and gateway on the same config service and Redis."""
    return make_stack(env, logs="replica", expect_keys=len(KEYS), replica_of=stack)


def test_rate_limit_holds_across_two_gateways(stack: Stack, other: Stack, admin: httpx.Client) -> None:
    secret = admin.post("/tokens", json={"name": "team-limited", "rpm_limit": 4}).json()["secret"]
    if 60 - time.time() % 60 < 10:  # the count is per minute: run it all inside one window
        time.sleep(60 - time.time() % 60)
    for gateway in (stack, other):  # a 401 (token not known there yet) is not counted

        def answered(g: Stack = gateway) -> bool:
            return generate(g, secret).status_code == 200

        assert eventually(answered)
    answers = [generate(gateway, secret) for gateway in (stack, other, other, stack)]
    assert [a.status_code for a in answers] == [200, 200, 429, 429]
    over = answers[2]
    assert 1 <= int(over.headers["retry-after"]) <= 60
    error = over.json()["error"]
    assert error["status"] == "RESOURCE_EXHAUSTED" and "team-limited" in error["message"]
    assert generate(stack, TEAM).status_code == 200  # other tokens are not affected

    # an admin session started on one gateway is good on the other, and ends on both
    with httpx.Client(base_url=f"{stack.gateway_url}/api/admin") as browser:
        assert browser.post("/login", json={"token": ADMIN}).status_code == 200
        cookies = dict(browser.cookies)
    elsewhere = f"{other.gateway_url}/api/admin/session"
    assert httpx.get(elsewhere, cookies=cookies).json()["via"] == "session"
    assert httpx.post(f"{other.gateway_url}/api/admin/logout", cookies=cookies).status_code == 204
    assert httpx.get(elsewhere, cookies=cookies).status_code == 401


def test_logout_on_one_gateway_is_refused_by_the_other_at_once(stack: Stack, other: Stack) -> None:
    with httpx.Client(base_url=f"{stack.gateway_url}/api/admin") as here:
        assert here.post("/login", json={"token": ADMIN}).status_code == 200
        cookies = dict(here.cookies)
        for _ in range(3):  # both gateways now hold the session in their cache
            assert here.get("/settings").status_code == 200
            assert httpx.get(f"{other.gateway_url}/api/admin/settings", cookies=cookies).status_code == 200
        assert here.post("/logout").status_code == 204
    assert httpx.get(f"{other.gateway_url}/api/admin/settings", cookies=cookies).status_code == 401
    assert httpx.get(f"{stack.gateway_url}/api/admin/settings", cookies=cookies).status_code == 401


def sign_in(gateway: Stack, token: str, address: str) -> httpx.Response:
    """A login as if from ``address`` (a local reverse proxy's X-Forwarded-For: FORWARDED_ALLOW_IPS)."""
    headers = {"x-forwarded-for": address}
    return httpx.post(f"{gateway.gateway_url}/api/admin/login", json={"token": token}, headers=headers)


def test_wrong_admin_tokens_lock_the_address_on_every_gateway(stack: Stack, other: Stack) -> None:
    limit = 10  # ADMIN_LOGIN_MAX_FAILURES' default
    answers = [sign_in((stack, other)[n % 2], f"guess-{n}", "203.0.113.10") for n in range(limit)]
    assert {a.status_code for a in answers} == {401}
    for gateway in (stack, other):
        refused = sign_in(gateway, ADMIN, "203.0.113.10")  # the right token, refused unseen
        assert refused.status_code == 429 and "set-cookie" not in refused.headers
        assert 800 < int(refused.headers["retry-after"]) <= 900
        assert "Too many wrong admin tokens" in refused.json()["detail"]
    assert sign_in(stack, ADMIN, "203.0.113.11").status_code == 200  # other addresses sign in
    metrics = httpx.get(f"{stack.gateway_url}/metrics").text + httpx.get(f"{other.gateway_url}/metrics").text
    assert "gempool_gateway_admin_lockouts_total 1.0" in metrics


def test_a_right_admin_token_clears_the_count(stack: Stack, other: Stack) -> None:
    for _ in range(9):
        assert sign_in(other, "guess", "203.0.113.20").status_code == 401
    assert sign_in(stack, ADMIN, "203.0.113.20").status_code == 200
    answers = [sign_in(other, "guess", "203.0.113.20").status_code for _ in range(11)]
    assert answers == [401] * 10 + [429]


def test_keys_bulk_add_disable_verify_reset_delete(admin: httpx.Client) -> None:
    new = [f"ok-bulk-{n:04d}-key" for n in range(300)]
    added = admin.post("/keys", json={"text": ",\n".join(new[:200]), "keys": [*new[200:], KEYS[0]]})
    assert added.json()["keys_revision"] > 0
    assert added.json() | {"keys_revision": 0} == {
        "received": 301,
        "added": 300,
        "existing": 1,
        "keys_revision": 0,
    }

    def listed(**params: Any) -> dict[str, Any]:
        page: dict[str, Any] = admin.get("/keys", params={"page_size": 1000, **params}).json()
        return page

    assert eventually(lambda: listed()["total"] == len(KEYS) + 300, 10)
    page = listed()
    assert all(k not in json.dumps(page) for k in [*new, *KEYS])  # masked only
    victim = next(k for k in page["keys"] if k["masked"] == "ok-b...-key")
    disabled = admin.post("/keys/disable", json={"key_ids": [victim["key_id"], "nope"]}).json()
    assert disabled.pop("keys_revision") > added.json()["keys_revision"]
    assert disabled == {"changed": 1, "missing": ["nope"]}
    assert eventually(lambda: [k["key_id"] for k in listed(state="disabled")["keys"]] == [victim["key_id"]])
    assert admin.post("/keys/enable", json={"key_ids": [victim["key_id"]]}).json()["changed"] == 1

    ids = [k["key_id"] for k in page["keys"][:3]]
    verified = admin.post("/keys/verify", json={"key_ids": ids, "wait": True}).json()
    assert verified["total"] == 3
    with admin.stream("POST", "/keys/verify", json={"key_ids": ids}) as progress:
        lines = [json.loads(line) for line in progress.iter_lines() if line]
    assert sorted(line["done"] for line in lines) == [1, 2, 3] and {line["total"] for line in lines} == {3}
    assert admin.post("/keys/reset", json={"key_ids": ids}).status_code == 200

    bulk_ids = [
        k["key_id"] for k in page["keys"] if k["masked"].startswith("ok-b") and k["masked"] != "ok-b...0002"
    ]
    removed = admin.post("/keys/delete", json={"key_ids": bulk_ids}).json()
    assert removed.pop("keys_revision") > added.json()["keys_revision"]
    assert removed == {"removed": 300}
    assert admin.delete("/keys/nope").status_code == 404


def test_error_logs_stats_and_deletes(stack: Stack, admin: httpx.Client) -> None:
    started = time.time()
    for n in range(6):
        assert generate(stack, TEAM, text=f"stats {n}").status_code == 200

    def errors_since() -> list[dict[str, Any]]:
        reply = admin.get("/logs/errors", params={"since": started - 60})
        entries: list[dict[str, Any]] = reply.json()["entries"]
        return entries

    stats = eventually(
        lambda: (s := admin.get("/stats", params={"bucket": "minute"}).json())["total"]["calls"] >= 6 and s
    )
    assert stats["total"]["success"] >= 6 and stats["series"] and stats["last_day"]["calls"] >= 6
    assert "allowed-token-1" in {g["name"] for g in stats["by_token"]}  # TEAM, seeded as a record
    assert stats["by_model"][0]["name"] == "gemini-2.5-flash"
    failures = errors_since()
    invalid = [e for e in failures if e["key_masked"] == "inva...0003"]
    assert invalid and invalid[0]["status"] == 400 and invalid[0]["error_code"] == "INVALID_ARGUMENT"
    detail = admin.get(f"/logs/errors/{invalid[0]['id']}").json()
    assert detail["request_body"] == ""  # ERROR_LOG_RECORD_REQUEST_BODY is off
    assert admin.get("/logs/errors/999999999").status_code == 404
    deleted = admin.delete("/logs/errors", params={"ids": [e["id"] for e in failures]}).json()
    assert deleted == {"deleted": len(failures)} and errors_since() == []
    assert admin.delete("/logs/errors").status_code == 422


def test_export_then_import_restores_keys_and_tokens(admin: httpx.Client) -> None:
    exported = admin.get("/export")
    assert "attachment" in exported.headers["content-disposition"]
    document = exported.json()
    assert KEYS[0] in json.dumps(document["keys"]) and document["settings"]["AUTH_TOKEN"] == digest_of(ADMIN)
    assert ADMIN not in exported.text and TEAM not in exported.text  # tokens travel as digests
    tokens = {t["name"]: t for t in admin.get("/tokens").json()}
    kid = next(k["key_id"] for k in admin.get("/keys").json()["keys"] if k["masked"] == "ok-a...0001")
    assert admin.delete(f"/tokens/{tokens['team-limited']['id']}").status_code == 204
    assert admin.delete(f"/keys/{kid}").status_code == 204

    imported = admin.post("/import", json=document)
    assert imported.status_code == 200, imported.text
    assert imported.json()["tokens_added"] == 1 and imported.json()["keys_added"] == 1
    assert {t["name"] for t in admin.get("/tokens").json()} == set(tokens)
    broken = admin.post("/import", json={**document, "settings": {"MAX_RETRIES": "many"}})
    assert broken.status_code == 422 and broken.json()["detail"][0]["name"] == "MAX_RETRIES"


async def test_no_log_record_lost_across_a_config_restart(
    stack: Stack, admin: httpx.Client, pg_url: str
) -> None:
    secret = admin.post("/tokens", json={"name": "team-load"}).json()["secret"]
    assert eventually(lambda: generate(stack, secret).status_code == 200)
    answered: list[int] = [200]  # the request above
    stop = asyncio.Event()

    async def load(client: httpx.AsyncClient) -> None:
        url = "/v1beta/models/gemini-2.5-flash:generateContent"
        body = {"contents": [{"parts": [{"text": "load"}]}]}
        while not stop.is_set():
            reply = await client.post(url, headers={"x-goog-api-key": secret}, json=body)
            answered.append(reply.status_code)

    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        workers = [asyncio.create_task(load(client)) for _ in range(8)]
        await asyncio.sleep(0.5)
        await asyncio.to_thread(stack.stop_one, "config")
        down_at = len(answered)
        await asyncio.sleep(1.0)
        stack.start_one("config")
        await asyncio.to_thread(stack.wait_ready, 60, ("config",))
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*workers)
    assert len(answered) - down_at > 20, "the gateway kept serving while the config service was away"
    assert set(answered) == {200}

    def stored() -> int:
        with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
            row = conn.execute("SELECT count(*) FROM request_logs WHERE token_name = 'team-load'").fetchone()
        return int(row[0]) if row else 0

    assert eventually(lambda: stored() == len(answered), 15), f"{stored()} stored, {len(answered)} sent"
    time.sleep(0.5)
    assert stored() == len(answered)  # and no batch stored twice
