"""Scroll-back and the search panel (static/history.js) in a real browser, against a real server.

Uses the browser fixtures of tests/browser_support.py (Debian's headless Chromium; a missing browser is a skip).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser_support import browser, open_dashboard, page, serve, texts, wait_last
from tests.streams import append
from tests.support import LogtailServer

__all__ = ["browser", "page", "serve"]  # fixtures used here by name

pytestmark = pytest.mark.browser

FIRST_TEXT_IS_JS = """(want) => {
  const first = document.querySelector('#panes .line .text');
  return first !== null && first.textContent === want;
}"""


def scroll_back(pg: Page, expect_first: str) -> None:
    """Scroll up to the top with the mouse wheel, as a user does, and wait for the older lines."""
    pg.locator("#panes .pane-body").hover()
    pg.mouse.wheel(0, -1_000_000)
    pg.wait_for_function(FIRST_TEXT_IS_JS, arg=expect_first)


def test_scroll_back_through_the_file_and_its_rotated_file_within_the_cap(
        page: Page, serve: Callable[..., LogtailServer], tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    lines = [f"line {i:04d}" for i in range(1, 1001)]
    older = [f"old {i:03d}" for i in range(1, 301)]
    (tmp_path / "app.log.1").write_text("".join(f"{line}\n" for line in older))
    append(log, lines)
    server = serve(str(log), "--backlog", "200")
    open_dashboard(page, server, "log=app.log&max_lines=500")
    wait_last(page, "line 1000")
    assert texts(page) == lines[-200:]  # the page opens with --backlog lines

    scroll_back(page, "line 0601")
    assert texts(page) == lines[600:]
    # The line that was at the top is still in view: the scroll position follows the prepended lines.
    assert page.evaluate("""() => {
      const body = document.querySelector('#panes .pane-body').getBoundingClientRect();
      const line = [...document.querySelectorAll('#panes .line')].find((l) => l.textContent.includes('line 0801'));
      const r = line.getBoundingClientRect();
      return r.top >= body.top - 1 && r.bottom <= body.bottom + 1;
    }""")

    scroll_back(page, "line 0401")  # 600 lines > the cap of 500: the newest 100 go back to the queue
    assert texts(page) == lines[400:900]
    expect(page.locator("#panes .jump")).to_have_text("100 new lines — jump to bottom")
    append(log, ["live 1"])
    expect(page.locator("#panes .jump")).to_have_text("101 new lines — jump to bottom")

    for first in ("line 0201", "line 0001", "old 101"):  # on into app.log.1
        scroll_back(page, first)
        assert page.locator("#panes .line").count() == 500
    scroll_back(page, "old 001")
    expect(page.locator("#panes .history-status")).to_have_text("Beginning of the log (and its rotated files)")
    expect(page.locator("#panes .marker").first).to_have_text("beginning of app.log")
    assert texts(page) == (older + lines)[:499]  # the cap counts entries: the marker takes one

    page.keyboard.press("End")  # back to live: everything held comes back, the cap holds
    wait_last(page, "live 1")
    assert texts(page) == [*lines[-499:], "live 1"]
    append(log, ["live 2"])
    wait_last(page, "live 2")
    assert page.locator("#panes .line").count() == 500


def test_scroll_back_uses_the_filter_of_the_view(page: Page, serve: Callable[..., LogtailServer],
                                                 tmp_path: Path) -> None:
    """With a filter the backlog may hold few lines: older matching lines come from the whole file."""
    log = tmp_path / "app.log"
    append(log, [f"{'ERROR' if i % 100 == 0 else 'INFO'} request {i:05d}" for i in range(1, 20001)])
    server = serve(str(log), "--backlog", "200")
    open_dashboard(page, server, "log=app.log&level=error")
    wait_last(page, "ERROR request 20000")
    assert len(texts(page)) == 100  # the server's window of 10000 lines holds 100 errors
    page.locator("#panes .history-bar button").click()
    page.wait_for_function(FIRST_TEXT_IS_JS, arg="ERROR request 00100")
    assert texts(page) == [f"ERROR request {i:05d}" for i in range(100, 20001, 100)]
    expect(page.locator("#panes .history-status")).to_have_text("Beginning of the log (and its rotated files)")


def test_search_panel_results_more_and_context(page: Page, serve: Callable[..., LogtailServer],
                                               tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    current = [f"{i:04d} {'needle' if i % 10 == 0 else 'hay'} <b>not html</b>" for i in range(1, 2001)]
    rotated = [f"r{i:04d} {'needle' if i % 10 == 0 else 'hay'}" for i in range(1, 1001)]
    (tmp_path / "app.log.2.gz").write_bytes(gzip.compress("".join(f"{x}\n" for x in rotated).encode()))
    append(log, current)
    server = serve(str(log))
    open_dashboard(page, server, "log=app.log")
    wait_last(page, current[-1])

    page.locator("#history-search > summary").click()
    page.locator("#hs-q").fill("needle")
    page.locator("#hs-q").press("Enter")
    first_page = re.compile(r"^200 matches so far \(\d+ KB searched\); there may be more$")
    expect(page.locator("#hs-status")).to_have_text(first_page)
    expected = [x for x in rotated + current if "needle" in x][::-1]  # newest first: the live file first
    result_texts = "() => [...document.querySelectorAll('#hs-results .hs-hit .line .text')].map((e) => e.textContent)"
    assert page.evaluate(result_texts) == expected[:200]
    expect(page.locator("#hs-results .hs-hit mark").first).to_have_text("needle")
    expect(page.locator("#hs-progress")).to_be_hidden()

    page.locator("#hs-more").click()
    expect(page.locator("#hs-status")).to_contain_text("300 matches (")
    assert page.evaluate(result_texts) == expected
    expect(page.locator("#hs-more")).to_be_hidden()
    expect(page.locator("#hs-results .hs-hit").last.locator(".hs-meta")).to_contain_text("app.log.2.gz · line 10")

    # "show in context" on a match in the live file, and on one at the start of the rotated file
    hit = page.locator("#hs-results .hs-hit").nth(5)  # "1950 needle ..."
    hit.locator(".hs-show").click()
    context = hit.locator(".hs-context .line .text")
    expect(context).to_have_count(21)
    assert context.all_text_contents() == current[1939:1960]
    expect(hit.locator(".hs-context .hs-target .text")).to_have_text(current[1949])
    last = page.locator("#hs-results .hs-hit").last  # "r0010 needle": 9 lines before it
    last.locator(".hs-show").click()
    expect(last.locator(".hs-context .line")).to_have_count(20)
    assert last.locator(".hs-context .line .text").all_text_contents() == rotated[:20]
    hit.locator(".hs-show").click()
    expect(hit.locator(".hs-context")).to_have_count(0)

    page.locator("#hs-q").fill("(unclosed")
    page.locator("#hs-regex").check()
    page.locator("#hs-q").press("Enter")
    expect(page.locator("#hs-status")).to_contain_text("Search failed: invalid regex")
