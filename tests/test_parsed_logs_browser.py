"""An nginx access log with `parse=nginx` on the page: its columns and chips come from the fields the server
sends with each line (static/fields.js), in a real browser against a real server.

Uses the browser fixtures of test_browser.py (Debian's headless Chromium; a missing browser is a skip).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser_support import browser, open_dashboard, page, serve, texts, wait_last
from tests.streams import TRACEBACK, append
from tests.support import LogtailServer

__all__ = ["browser", "page", "serve"]  # fixtures used here by name

pytestmark = pytest.mark.browser

X = "\u00d7"  # a chip's remove mark
LINES = [
    '203.0.113.9 - alice [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1" 200 512 "-" "curl/8.0"',
    '2001:db8::1 - - [10/Oct/2026:13:55:37 +0000] "POST /b HTTP/1.1" 503 17 "-" "Mozilla/5.0 \\x22x\\x22"',
    '198.51.100.3 - bob [10/Oct/2026:13:55:38 +0000] "GET /c HTTP/1.1" 404 0 "-" "curl/8.0"',
]


def test_access_log_columns_and_chips(page: Page, serve: Callable[..., LogtailServer], tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    append(log, list(LINES))
    server = serve(f"web={log}:parse=nginx")
    open_dashboard(page, server, "log=web")
    wait_last(page, LINES[-1])
    expect(page.locator("#panes .line.lvl-error")).to_have_count(1)  # the 503, from its status
    expect(page.locator("#panes .line.lvl-warn")).to_have_count(1)  # the 404

    page.locator("#columns > summary").click()
    expect(page.locator("#column-list input[value=status]")).to_have_count(1)
    expect(page.locator("#column-list input[value=user_agent]")).to_have_count(1)
    page.locator("#column-list input[value=status]").check()
    page.locator("#column-list input[value=user_agent]").check()
    cells = page.locator("#panes .line").nth(1).locator(".cell")
    expect(cells).to_have_text(["503", 'Mozilla/5.0 "x"'])

    cells.nth(0).click()  # adds status:503
    expect(page.locator("#field-chips .field-chip")).to_have_text(["status:503" + X])
    wait_last(page, LINES[1])
    assert texts(page) == [LINES[1]]


def test_a_traceback_is_collapsed_to_its_first_line(page: Page, serve: Callable[..., LogtailServer],
                                                    tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    cfg = tmp_path / "logtail.toml"
    cfg.write_text(f'[logs.app]\npath = "{log}"\nmultiline = "python"\nmultiline_wait = "200ms"\n')
    append(log, ["2026-10-10 13:55:35,000 INFO before", *TRACEBACK])
    server = serve("--config", str(cfg))
    open_dashboard(page, server, "log=app")
    event = page.locator("#panes .line.lvl-error")
    expect(event).to_have_count(1)
    expect(event.locator(".more-lines")).to_have_text("+4 lines")
    expect(event.locator(".text").first).to_have_text(TRACEBACK[0])
    rest = event.locator(".event-rest")
    expect(rest).to_be_hidden()
    event.locator(".more-lines").click()
    expect(rest).to_be_visible()
    expect(rest).to_have_text("\n".join(TRACEBACK[1:]))
