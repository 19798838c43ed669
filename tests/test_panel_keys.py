"""The admin panel's keys page in headless chromium, over the four services started as processes.

Screenshots of each step land in tests/artifacts/test_panel_keys/.
"""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from gempool.common.devstack import Stack
from gempool.fakegemini.server import Running

from .conftest import StackFactory
from .panelkit import ADMIN, Shots, new_page, sign_in

pytestmark = pytest.mark.e2e
KEYS = ["ok-panel-key-0001", "ok-panel-key-0002"]


@pytest.fixture(scope="module")
def stack(make_stack: StackFactory, upstream: Running, pg_url: str, redis_prefix: str) -> Stack:
    env = {
        "API_KEYS": ",".join(KEYS),
        "ALLOWED_TOKENS": "team-panel-token",
        "AUTH_TOKEN": ADMIN,
        "BASE_URL": f"{upstream.url}/v1beta",
        "DATABASE_URL": pg_url,
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "REDIS_PREFIX": redis_prefix,
        "LOG_FLUSH_SECONDS": "0.2",
    }
    return make_stack(env, expect_keys=len(KEYS))


@pytest.fixture(scope="module")
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    page = new_page(browser, stack.gateway_url)
    sign_in(page)
    yield page
    page.context.close()


def test_sign_in_shows_the_panel(page: Page, shots: Shots) -> None:
    expect(page.locator("#panel")).to_be_visible()
    shots(page, "signed in")
