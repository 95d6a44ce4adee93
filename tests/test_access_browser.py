"""The page in Debian's headless Chromium shows each user only the logs they may read, and streams them
(issue 26). No tool downloads a browser: without /usr/bin/chromium this is a skip (a failure in CI)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from logtail.web.middleware.auth import hash_password
from tests.support import LogtailServer

try:
    from playwright.sync_api import Browser, sync_playwright
except ImportError:
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("Playwright for Python is missing: run scripts/setup", allow_module_level=True)

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "secret"
NAMES_JS = "() => [...document.querySelectorAll('#log-list li.log-item')].map((e) => e.dataset.name)"
TEXTS_JS = "() => [...document.querySelectorAll('#panes .line .text')].map((e) => e.textContent)"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = "Debian's chromium is not installed at /usr/bin/chromium: run `sudo apt-get install chromium`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def test_the_page_lists_and_streams_only_the_users_logs(tmp_path: Path, browser: Browser,
                                                       start_server: Callable[..., LogtailServer]) -> None:
    for name in ("app.log", "db.log"):
        (tmp_path / name).write_text(f"{name} first\n")
    hashed = hash_password(PASSWORD)
    (tmp_path / "users").write_text(f"alice:{hashed}:web\nbob:{hashed}:dba\n")
    config = tmp_path / "logtail.toml"
    config.write_text(f'users = "{tmp_path / "users"}"\n[access]\n"app*" = ["group:web"]\n'
                      '"db*" = ["group:dba", "alice"]\n')
    server = start_server("--config", str(config), str(tmp_path / "app.log"), str(tmp_path / "db.log"))
    for user, expected in (("bob", ["db.log"]), ("alice", ["app.log", "db.log"])):
        context = browser.new_context(http_credentials={"username": user, "password": PASSWORD})
        try:
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.goto(f"{server.url}/")
            page.wait_for_function(f"() => ({NAMES_JS})().length === {len(expected)}")
            assert page.evaluate(NAMES_JS) == expected
            assert page.locator(".user").text_content() == user
            page = context.new_page()  # a fresh page: a new fragment alone is not a new load
            page.set_default_timeout(15_000)
            page.goto(f"{server.url}/#log={expected[0]}")
            page.wait_for_function(f"() => ({TEXTS_JS})().includes({expected[0] + ' first'!r})")
            assert "app.log first" not in page.evaluate(TEXTS_JS) or user == "alice"
        finally:
            context.close()
