"""The dashboard with the keyboard alone, in Chromium: one Tab stop per pane and arrow keys between its lines,
the mobile Logs drawer, the Columns menu, removing a field chip, and an invalid regex's message."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser_support import browser, open_dashboard, page, serve, wait_last
from tests.streams import append
from tests.support import LogtailServer

__all__ = ["browser", "page", "serve"]  # fixtures used here by name

pytestmark = pytest.mark.browser

# The elements of the page that Tab stops at (tabIndex >= 0, rendered, not disabled), in a container.
TAB_STOPS_JS = """(selector) => [...document.querySelectorAll(selector)]
  .flatMap((root) => [root, ...root.querySelectorAll('*')])
  .filter((e) => e.tabIndex >= 0 && !e.disabled && e.checkVisibility({ visibilityProperty: true })).length"""
FOCUSED_TEXT_JS = "() => document.activeElement.closest('.line')?.querySelector('.text')?.textContent ?? null"


def lines(n: int) -> list[str]:
    """`n` lines, every third one JSON (a toggle each) and every one with a `level` field (a cell each)."""
    return [json.dumps({"level": "info", "msg": f"line {i}"}) if i % 3 == 0 else f"level=info msg=line{i}"
            for i in range(n)]


def focused_text(pg: Page) -> str | None:
    return pg.evaluate(FOCUSED_TEXT_JS)


def test_a_pane_is_one_tab_stop_and_arrow_keys_move_between_its_lines(
        page: Page, serve: Callable[..., LogtailServer], tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, lines(60))
    server = serve(str(log), "--backlog", "100")
    open_dashboard(page, server, "log=app.log&column=level")
    wait_last(page, "level=info msg=line59")
    assert page.evaluate(TAB_STOPS_JS, "#panes .pane-body") == 1  # 60 lines, 20 JSON toggles, 60 cells

    page.locator("#panes .pane-head button").focus()  # "Clear view", just before the lines
    page.keyboard.press("Tab")
    expect(page.locator("#panes .pane-body")).to_be_focused()
    page.keyboard.press("ArrowUp")  # the last line in view
    assert focused_text(page) == "level=info msg=line59"
    page.keyboard.press("ArrowUp")
    assert focused_text(page) == "level=info msg=line58"
    copy = page.locator("#panes .line:focus .copy")  # its buttons come with the keyboard too
    expect(copy).to_have_css("opacity", "1")
    expect(page.locator("#panes .line:focus .link")).to_have_css("opacity", "1")
    page.keyboard.press("ArrowRight")  # the line's controls: its cell first
    expect(page.locator("#panes .line .cell").nth(58)).to_be_focused()
    page.keyboard.press("ArrowDown")  # from a control, the next line
    assert focused_text(page) == "level=info msg=line59"

    page.keyboard.press("Home")
    assert focused_text(page) == "INFO line 0"  # a JSON line's summary
    page.keyboard.press("Enter")  # opens its JSON view
    expect(page.locator("#panes .line").first.locator("pre.json-pretty")).to_be_visible()
    page.keyboard.press("PageDown")
    after_page = focused_text(page)
    assert after_page not in ("INFO line 0", "level=info msg=line1", None)
    page.keyboard.press("End")
    assert focused_text(page) == "level=info msg=line59"

    # The line is now the pane's one Tab stop: Tab leaves the pane, Shift+Tab comes back to the same line.
    assert page.evaluate(TAB_STOPS_JS, "#panes .pane-body") == 1
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.closest('.pane-body')") is None
    page.keyboard.press("Shift+Tab")
    assert focused_text(page) == "level=info msg=line59"

    page.locator("#panes .pane-head button").click()  # "Clear view": the line leaves, the body is the stop
    expect(page.locator("#panes .line")).to_have_count(0)
    page.wait_for_function("() => document.querySelector('#panes .pane-body').tabIndex === 0")


def test_the_closed_logs_drawer_keeps_no_tab_stop_and_the_open_one_takes_focus_and_closes_on_escape(
        page: Page, serve: Callable[..., LogtailServer], tmp_path: Path) -> None:
    for name in ("app.log", "db.log", "web.log"):
        append(tmp_path / name, ["x"])
    server = serve(str(tmp_path / "app.log"), str(tmp_path / "db.log"), str(tmp_path / "web.log"))
    page.set_viewport_size({"width": 390, "height": 844})
    open_dashboard(page, server, "log=app.log")
    assert page.evaluate(TAB_STOPS_JS, "#sidebar") == 0

    button = page.locator("#toggle-sidebar")
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#sidebar :focus")).to_have_count(1)
    assert page.evaluate(TAB_STOPS_JS, "#sidebar") > 0
    page.keyboard.press("Escape")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_be_focused()
    page.wait_for_function(f"() => ({TAB_STOPS_JS})('#sidebar') === 0")  # once it has slid away


def test_the_columns_menu_stays_in_the_window_and_closes_on_escape(
        page: Page, serve: Callable[..., LogtailServer], tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, [json.dumps({"level": "info", f"a_rather_long_field_name_{'x' * 40}": 1, "msg": "hi"})])
    server = serve(str(log))
    for width in (1280, 700, 390):
        page.set_viewport_size({"width": width, "height": 800})
        page.goto("about:blank")
        open_dashboard(page, server, "log=app.log")
        wait_last(page, "INFO hi a_rather_long_field_name_" + "x" * 40 + "=1")
        if width < 760:
            page.locator("#toggle-options").click()
        summary = page.locator("#columns summary")
        summary.focus()
        page.keyboard.press("Enter")
        menu = page.locator("#column-list")
        expect(menu).to_be_visible()
        box = menu.bounding_box()
        assert box is not None
        window = page.evaluate("() => document.documentElement.clientWidth")
        assert 0 <= box["x"] and box["x"] + box["width"] <= window, f"{width} px: {box} outside 0..{window}"
        page.keyboard.press("Tab")  # into the menu
        page.keyboard.press("Escape")
        expect(menu).to_be_hidden()
        expect(summary).to_be_focused()


def test_removing_a_field_chip_moves_the_focus_to_its_neighbour(
        page: Page, serve: Callable[..., LogtailServer], tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, ["a=1 b=2"])
    server = serve(str(log))
    open_dashboard(page, server, "log=app.log&field=a:1&field=b:2")
    chips = page.locator("#field-chips .field-chip")
    expect(chips).to_have_count(2)
    chips.first.focus()
    page.keyboard.press("Enter")
    expect(chips).to_have_count(1)
    expect(chips.first).to_contain_text("b:2")
    expect(chips.first).to_be_focused()
    page.keyboard.press("Enter")
    expect(chips).to_have_count(0)
    expect(page.locator("#field-add")).to_be_focused()


def test_an_invalid_regex_is_announced_once_in_words(
        page: Page, serve: Callable[..., LogtailServer], tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, ["x"])
    server = serve(str(log))
    open_dashboard(page, server, "log=app.log")
    page.locator("#opt-regex").check()
    page.locator("#filter").fill("(unclosed")
    expect(page.locator("#filter-error")).to_have_text("invalid regex: missing ): (unclosed")
    expect(page.locator("#status")).to_have_attribute("data-state", "error")
    regions = page.locator('[role="alert"]:not([hidden]), [role="status"]:not([hidden]), [aria-live]:not([hidden])')
    assert [region.inner_text() for region in regions.all() if "unclosed" in region.inner_text()] == [
        "invalid regex: missing ): (unclosed"]
