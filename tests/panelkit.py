"""The admin panel in a real browser: Debian's chromium driven by Playwright, one browser per module.

Playwright never downloads a browser here: it is pointed at the system's ``chromium`` (``make setup``
installs it with apt-get). Each step can be saved as a screenshot under ``tests/artifacts/`` (git-ignored)
so a person can look at what the test saw.
"""

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

ARTIFACTS = Path(__file__).parent / "artifacts"
ADMIN = "admin-secret-token-panel"
# Assertions wait this long for the page (ms): the machine running the suite may be busy.
expect.set_options(timeout=15_000)


def chromium_path() -> str:
    """The system chromium; a clear skip reason (not a download) when it is missing."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium is not installed: run `make setup` as root (apt-get install chromium)")


@contextlib.contextmanager
def system_chromium() -> Iterator[Browser]:
    """One headless chromium (the tests/conftest.py ``browser`` fixture opens one per module)."""
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    path = chromium_path()
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


class Shots:
    """Numbered screenshots of one module's steps: tests/artifacts/<module>/NN-step.png."""

    def __init__(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.folder, self.count = folder, 0

    def __call__(self, page: Page, step: str, *, full: bool = True) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{re.sub(r'[^a-z0-9]+', '-', step.lower())}.png"
        page.screenshot(path=str(path), full_page=full)
        return path


def new_page(
    browser: Browser, base_url: str, *, locale: str = "en-US", width: int = 1280, dark: bool = False
) -> Page:
    """A fresh browser context (its own cookies) with one page on the panel. Script errors on the
    page are collected in ``page.errors`` (see ``no_script_errors``)."""
    context = browser.new_context(
        base_url=base_url,
        locale=locale,
        viewport={"width": width, "height": 900},
        timezone_id="UTC",
        color_scheme="dark" if dark else "light",
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.errors = errors  # type: ignore[attr-defined]
    page.goto("/admin")
    return page


def script_errors(page: Page) -> list[str]:
    """What the page's scripts threw or logged as errors (a 401 before sign-in is expected)."""
    errors: list[str] = page.errors  # type: ignore[attr-defined]
    return [e for e in errors if "401" not in e]


def sign_in(page: Page, token: str = ADMIN) -> None:
    page.fill("#login-token", token)
    page.press("#login-token", "Enter")
    page.wait_for_selector("#panel:not([hidden])")
