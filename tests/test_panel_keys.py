"""The admin panel's overview, keys and statistics in headless chromium, over the four services
started as processes with the fake Gemini upstream. Screenshots: tests/artifacts/test_panel_keys/.
"""

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from gempool.common.devstack import Stack
from gempool.fakegemini.server import Running

from .conftest import StackFactory
from .panelkit import ADMIN, Shots, new_page, script_errors, sign_in

pytestmark = pytest.mark.e2e
TEAM = "team-panel-token"
# Two keys that look alike masked (ok-t...0001): statistics must keep them apart.
TWINS = ["ok-twin-AAAA-0001", "ok-twin-BBBB-0001"]


@pytest.fixture(scope="module")
def stack(make_stack: StackFactory, upstream: Running, pg_url: str, redis_prefix: str) -> Stack:
    env = {
        "API_KEYS": ",".join(TWINS),
        "ALLOWED_TOKENS": TEAM,
        "AUTH_TOKEN": ADMIN,
        "BASE_URL": f"{upstream.url}/v1beta",
        "DATABASE_URL": pg_url,
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "REDIS_PREFIX": redis_prefix,
        "LOG_FLUSH_SECONDS": "0.2",
    }
    stack = make_stack(env, expect_keys=len(TWINS))
    for n in range(6):  # round robin: three calls on each twin
        url = f"{stack.gateway_url}/v1beta/models/gemini-2.5-flash:generateContent"
        body = {"contents": [{"parts": [{"text": f"call {n}"}]}]}
        assert httpx.post(url, headers={"x-goog-api-key": TEAM}, json=body, timeout=30).status_code == 200
    return stack


@pytest.fixture(scope="module")
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    page = new_page(browser, stack.gateway_url)
    sign_in(page)
    yield page
    assert script_errors(page) == []
    page.context.close()


def rows(page: Page) -> list[str]:
    return page.locator("#keys-table tbody tr td:nth-child(2)").all_inner_texts()


def test_the_overview_opens_first_with_charts_drawn_from_the_calls(page: Page, shots: Shots) -> None:
    expect(page.locator("#tab-overview")).to_be_visible()
    expect(page.locator("#overview-keys tbody tr").first).to_contain_text("free")
    expect(page.locator("#overview-keys .count-active").first).to_have_text("2")
    day = page.locator(".chart-day svg")
    expect(day.locator("rect.ok").first).to_be_visible()
    assert day.locator("rect.ok").count() >= 1 and page.locator(".chart-hour .bar").count() == 60
    assert page.locator(".chart-month .bar").count() == 30
    expect(page.locator("#overview-top")).to_contain_text("gemini-2.5-flash")
    shots(page, "overview")


def test_statistics_keep_keys_alike_masked_apart(page: Page, shots: Shots) -> None:
    page.click("a[data-tab=stats]")
    by_key = page.locator(".group-key tbody tr")
    expect(by_key).to_have_count(2)
    assert by_key.locator("td:first-child").all_inner_texts() == ["ok-t...0001", "ok-t...0001"]
    assert by_key.locator("td:nth-child(2)").all_inner_texts() == ["3", "3"]
    shots(page, "statistics by key")


def test_added_keys_are_listed_at_once_and_found_by_search(page: Page, shots: Shots) -> None:
    page.click("a[data-tab=keys]")
    expect(page.locator("#keys-page")).to_have_text("1–2 of 2")
    page.click("#tab-keys summary")
    page.fill(
        "#keys-text", "ok-panel-key-0001\nok-panel-key-0002\ninvalid-panel-key-0003\nleaked-panel-key-0004"
    )
    page.fill("#keys-add-tags", "batch-1")
    page.click("#keys-add button[type=submit]")
    expect(page.locator("#keys-add-result")).to_contain_text("4 added")
    expect(page.locator("#keys-page")).to_have_text("1–6 of 6")  # no refresh: the write is read back
    shots(page, "keys added")
    page.fill("#keys-q", "inva")
    page.press("#keys-q", "Enter")
    expect(page.locator("#keys-page")).to_have_text("1–1 of 1")
    assert rows(page) == ["inva...0003"]
    page.fill("#keys-q", "")
    page.fill("#keys-tag", "batch-1")
    page.press("#keys-tag", "Enter")
    expect(page.locator("#keys-page")).to_have_text("1–4 of 4")
    shots(page, "keys searched by tag")


def test_bulk_verify_names_each_failing_key_and_retires_it(page: Page, shots: Shots) -> None:
    page.select_option("#keys-scope", "all")  # every key the search (tag batch-1) matches
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-bulk=verify]")
    expect(page.locator("#keys-progress")).to_contain_text("Verified 4 key(s): 2 ok, 2 failed, 2 retired.")
    results = page.locator("#keys-results li")
    expect(results).to_have_count(4)
    retired = page.locator("#keys-results li.result-retired").all_inner_texts()
    assert sorted(r.split(" ")[0] for r in retired) == ["inva...0003", "leak...0004"]
    assert any("API key not valid" in r for r in retired) and any("leaked" in r for r in retired)
    page.select_option("#keys-state", "retired")
    expect(page.locator("#keys-page")).to_have_text("1–2 of 2")
    expect(page.locator("#keys-table tbody")).to_contain_text("API key not valid")
    shots(page, "verify retired the failing keys")


def test_enable_and_disable_show_at_once_every_time(page: Page, shots: Shots) -> None:
    page.select_option("#keys-state", "")
    page.fill("#keys-tag", "")
    page.fill("#keys-q", "ok-p")
    page.press("#keys-q", "Enter")
    row = page.locator("#keys-table tbody tr", has_text="ok-p...0001")
    for _ in range(5):
        row.locator("button", has_text=re.compile("^disable$")).click()
        expect(row.locator(".state")).to_have_text("disabled", timeout=10_000)
        row.locator("button", has_text=re.compile("^enable$")).click()
        expect(row.locator(".state")).to_have_text("active", timeout=10_000)
    shots(page, "enable and disable")


def test_tag_every_key_a_search_matches_and_delete_them(page: Page, shots: Shots) -> None:
    expect(page.locator("#keys-page")).to_have_text("1–2 of 2")
    page.select_option("#keys-scope", "all")
    page.fill("#keys-tag-value", "team-a")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-bulk=tag]")
    expect(page.locator("#keys-table tbody .tag", has_text="team-a")).to_have_count(2)
    shots(page, "tagged")
    page.select_option("#keys-scope", "picked")
    page.locator(".key-pick").first.check()
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-bulk=delete]")
    expect(page.locator("#keys-page")).to_have_text("1–1 of 1")
    shots(page, "deleted one")


def test_a_keys_usage_history(page: Page, shots: Shots) -> None:
    page.fill("#keys-q", "ok-t")
    page.press("#keys-q", "Enter")
    page.locator("#keys-table tbody tr").first.locator("button", has_text="history").click()
    expect(page.locator("#key-history")).to_contain_text("3 calls, 100% success")
    expect(page.locator("#key-history svg.chart rect.ok")).to_have_count(1)
    shots(page, "a key's history")
