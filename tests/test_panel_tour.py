"""A tour of the admin panel in headless chromium as an operator would take it: sign in, settings,
tokens, logs, export and import, both languages, a phone-sized screen, dark mode, log out.
Screenshots: tests/artifacts/test_panel_tour/.
"""

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from gempool.common.devstack import Stack
from gempool.fakegemini.server import Running

from .conftest import StackFactory
from .panelkit import ADMIN, Shots, new_page, script_errors, sign_in

pytestmark = pytest.mark.e2e
TEAM = "team-tour-token"
ZONE = "Asia/Shanghai"


@pytest.fixture(scope="module")
def stack(make_stack: StackFactory, upstream: Running, pg_url: str, redis_prefix: str) -> Stack:
    env = {
        "API_KEYS": "ok-tour-key-0001,ok-tour-key-0002",
        "ALLOWED_TOKENS": TEAM,
        "AUTH_TOKEN": ADMIN,
        "BASE_URL": f"{upstream.url}/v1beta",
        "DATABASE_URL": pg_url,
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "REDIS_PREFIX": redis_prefix,
        "LOG_FLUSH_SECONDS": "0.2",
        "TIMEZONE": ZONE,
    }
    stack = make_stack(env, expect_keys=2)
    for model in ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash"):
        url = f"{stack.gateway_url}/v1beta/models/{model}:generateContent"
        body = {"contents": [{"parts": [{"text": "hello"}]}]}
        assert httpx.post(url, headers={"x-goog-api-key": TEAM}, json=body, timeout=30).status_code == 200
    return stack


@pytest.fixture(scope="module")
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    page = new_page(browser, stack.gateway_url)
    yield page
    assert script_errors(page) == []
    page.context.close()


def test_a_wrong_token_is_refused_then_the_right_one_signs_in(page: Page, shots: Shots) -> None:
    page.fill("#login-token", "not-the-token")
    page.press("#login-token", "Enter")
    expect(page.locator("#login-error")).to_contain_text("not the admin token")
    shots(page, "wrong token")
    sign_in(page)
    expect(page.locator("#tabs a.active")).to_have_text("Overview")


def test_settings_search_change_and_rollback(page: Page, shots: Shots) -> None:
    page.click("a[data-tab=settings]")
    page.fill("#settings-search", "max_retries")
    expect(page.locator("#settings-list .setting:visible")).to_have_count(1)
    field = page.locator("#setting-MAX_RETRIES input")
    before = field.input_value()
    field.fill("7")
    expect(page.locator("#dirty-count")).to_contain_text("1 unsaved change")
    page.click("#settings-save")
    expect(page.locator("#flash")).to_contain_text("Saved 1 setting(s)")
    expect(page.locator("#setting-MAX_RETRIES input")).to_have_value("7")
    shots(page, "setting saved")
    page.locator("#setting-MAX_RETRIES button", has_text="History").click()
    restore = page.locator("#setting-MAX_RETRIES .history tr", has_text=f"{before}").last
    page.once("dialog", lambda dialog: dialog.accept())
    restore.locator("button").click()
    expect(page.locator("#flash")).to_contain_text("MAX_RETRIES restored")
    page.fill("#settings-search", "max_retries")
    expect(page.locator("#setting-MAX_RETRIES input")).to_have_value(before)
    shots(page, "setting rolled back")
    page.fill("#settings-search", "")


def test_every_notice_is_listed_at_the_top_of_settings(page: Page, stack: Stack, shots: Shots) -> None:
    bearer = {"authorization": f"Bearer {ADMIN}"}
    url = f"{stack.gateway_url}/api/admin/settings"
    assert httpx.patch(url, headers=bearer, json={"values": {"TIME_OUT": 5}}).status_code == 200
    page.click("#settings-reload")
    notice = page.locator("#settings-notices li", has_text="TIME_OUT")
    expect(notice).to_be_visible()
    notice.locator("a").click()
    expect(page.locator("#setting-TIME_OUT input")).to_be_focused()
    shots(page, "notices at the top of settings", full=False)
    assert httpx.patch(url, headers=bearer, json={"values": {"TIME_OUT": 300}}).status_code == 200
    page.click("#settings-reload")
    expect(page.locator("#settings-notices li", has_text="TIME_OUT")).to_have_count(0)


def test_tokens_from_allowed_tokens_are_listed_created_edited_disabled(page: Page, shots: Shots) -> None:
    page.click("a[data-tab=tokens]")
    expect(page.locator("#tokens-table tbody tr", has_text="allowed-token-1")).to_contain_text("team...oken")
    page.fill("#token-name", "team-x")
    page.fill("#token-rpm", "30")
    page.click("#token-create button[type=submit]")
    expect(page.locator("#token-secret-value")).to_contain_text("gp-")
    page.click("#token-secret-close")
    row = page.locator("#tokens-table tbody tr", has_text="team-x")
    row.locator("button", has_text="edit").click()
    form = page.locator("form.token-edit")
    form.get_by_label("Name").fill("team-y")
    form.get_by_label("Allowed models").fill("gemini-2.5-*, gemini-2.0-flash")
    form.get_by_label("RPM limit").fill("7")
    form.get_by_label("Key tag").fill("team-y-keys")
    shots(page, "editing a token")
    form.get_by_role("button", name="Save").click()
    edited = page.locator("#tokens-table tbody tr", has_text="team-y")
    expect(edited).to_contain_text("gemini-2.5-*, gemini-2.0-flash")
    expect(edited.locator("td").nth(4)).to_have_text("7")
    expect(edited.locator("td").nth(5)).to_have_text("team-y-keys")
    edited.locator("button", has_text="disable").click()
    expect(page.locator("#tokens-table tbody tr", has_text="team-y").locator("td").nth(2)).to_have_text("no")
    shots(page, "token edited and disabled")


def test_logs_by_model_prefix_with_a_readable_detail(page: Page, shots: Shots) -> None:
    page.click("a[data-tab=logs]")
    expect(page.locator("#logs-table tbody tr")).to_have_count(3)
    page.fill("#logs-model", "gemini-2.5")
    page.press("#logs-model", "Enter")
    expect(page.locator("#logs-table tbody tr")).to_have_count(2)
    page.fill("#logs-status", "429")
    page.press("#logs-status", "Enter")
    expect(page.locator("#logs-table tbody")).to_contain_text("Nothing logged.")
    page.fill("#logs-status", "")
    local = datetime.now(ZoneInfo(ZONE))  # the range is read in TIMEZONE, as the panel shows times
    page.fill("#logs-since", (local + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M"))
    page.press("#logs-status", "Enter")
    expect(page.locator("#logs-table tbody")).to_contain_text("Nothing logged.")
    page.fill("#logs-since", (local - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#logs-until", (local + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M"))
    page.press("#logs-status", "Enter")
    expect(page.locator("#logs-table tbody tr")).to_have_count(2)
    expect(page.locator("#logs-zone")).to_have_text(f"({ZONE})")
    page.locator("#logs-table tbody tr").first.locator("button", has_text="details").click()
    detail = page.locator("#log-detail")
    expect(detail).to_contain_text(f"({ZONE})")
    shown = detail.locator("dt:text-is('When') + dd").inner_text()
    hour = datetime.now(ZoneInfo(ZONE)).strftime("%H:")
    assert hour in shown, f"{shown} is not in {ZONE}"
    assert "{" not in detail.inner_text(), "no raw JSON"
    shots(page, "log detail")


def test_export_then_import_says_what_it_did(page: Page, shots: Shots, tmp_path: Path) -> None:
    page.click("a[data-tab=data]")
    expect(page.locator("#tab-data")).to_contain_text("nothing missing from the file is deleted")
    with page.expect_download() as download:
        page.click("a[download]")
    saved = tmp_path / "export.json"
    download.value.save_as(saved)
    assert json.loads(saved.read_text())["format"] == "gempool-export"
    messages: list[str] = []

    def accept(dialog: Dialog) -> None:
        messages.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.set_input_files("#import-file", str(saved))
    page.click("#import-form button[type=submit]")
    expect(page.locator("#import-result")).to_contain_text("Imported: 0 setting(s) changed")
    assert "nothing missing from the file is deleted" in messages[0]
    shots(page, "imported")


def test_the_language_switch_and_the_browsers_language(
    page: Page, browser: Browser, stack: Stack, shots: Shots
) -> None:
    page.click("a[data-tab=overview]")
    page.locator("#panel .lang-switch").select_option("zh")
    expect(page.locator("a[data-tab=overview]")).to_have_text("概览")
    expect(page.locator("#overview-charts figcaption").first).to_have_text("最近一小时（按分钟）")
    shots(page, "chinese overview")
    page.reload()
    expect(page.locator("a[data-tab=keys]")).to_have_text("密钥")
    page.locator("#panel .lang-switch").select_option("en")
    expect(page.locator("a[data-tab=keys]")).to_have_text("Keys")
    chinese = new_page(browser, stack.gateway_url, locale="zh-CN")
    expect(chinese.locator("#login button[type=submit]")).to_have_text("登录")
    chinese.context.close()


def test_readable_on_a_phone_and_dark_when_the_system_is(
    browser: Browser, stack: Stack, shots: Shots
) -> None:
    phone = new_page(browser, stack.gateway_url, width=390, dark=True)
    sign_in(phone)
    for tab in ("settings", "keys", "logs", "overview"):
        phone.click(f"a[data-tab={tab}]")
        phone.wait_for_load_state("networkidle")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{tab} is {width} px wide"
        shots(phone, f"phone {tab}", full=False)
    background = phone.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(20, 23, 29)", background
    assert script_errors(phone) == []
    phone.context.close()


def test_keyboard_only_sign_out(page: Page, shots: Shots, stack: Stack) -> None:
    page.focus("#logout")
    page.keyboard.press("Enter")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#login-error")).to_have_text("Logged out.")
    shots(page, "logged out")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert httpx.get(f"{stack.gateway_url}/api/admin/settings", cookies=cookies).status_code == 401
