"""The page in Debian's headless Chromium shows each user only the logs they may read, and streams them
(issue 26). No tool downloads a browser: without /usr/bin/chromium this is a skip (a failure in CI)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from logtail.web.middleware.auth import hash_password
from tests.browser_support import browser
from tests.support import LogtailServer

try:
    from playwright.sync_api import Browser
except ImportError:
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("Playwright for Python is missing: run scripts/setup", allow_module_level=True)

__all__ = ["browser"]  # a fixture used here by name

pytestmark = pytest.mark.browser

PASSWORD = "secret"
NAMES_JS = "() => [...document.querySelectorAll('#log-list li.log-item')].map((e) => e.dataset.name)"
TEXTS_JS = "() => [...document.querySelectorAll('#panes .line .text')].map((e) => e.textContent)"


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
