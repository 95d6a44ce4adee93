"""Field columns, field filter chips, the since selector and line links (static/fields.js, app.js) in a real
browser, against a real server.

Uses the browser fixtures of tests/browser_support.py (Debian's headless Chromium; a missing browser is a skip).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser_support import browser, open_dashboard, page, serve, stream_requests, texts, wait_last
from tests.streams import append
from tests.support import LogtailServer

__all__ = ["browser", "page", "serve"]  # fixtures used here by name

pytestmark = pytest.mark.browser


X = "\u00d7"  # a chip's remove mark


def hash_params(pg: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(pg.url).fragment)


def iso_ago(seconds: float) -> str:
    return datetime.fromtimestamp(time.time() - seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_columns_value_click_adds_a_field_chip_and_all_is_in_the_url(
        page: Page, serve: Callable[..., LogtailServer], tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    lines = ["status=200 path=/a user=alice", 'status=503 path=/b user=bob msg="db down"',
             "plain text line", "status=404 path=/c user=alice"]
    append(log, lines)
    server = serve(str(log))
    open_dashboard(page, server, "log=app.log")
    wait_last(page, lines[-1])

    page.locator("#columns > summary").click()
    expect(page.locator("#column-list .column-pick")).to_have_text(["msg", "path", "status", "user"])
    page.locator("#column-list input[value=status]").check()
    page.locator("#column-list input[value=user]").check()
    page.wait_for_function("() => location.hash.includes('column=status&column=user')")
    cells = page.locator("#panes .line").nth(1).locator(".cell")
    expect(cells).to_have_text(["503", "bob"])
    expect(page.locator("#panes .line").nth(2).locator(".cell")).to_have_text(["", ""])  # a plain line

    requests = stream_requests(page)
    cells.nth(1).click()  # bob: adds user:bob
    expect(page.locator("#field-chips .field-chip")).to_have_text(["user:bob" + X])
    page.wait_for_function("() => location.hash.includes('field=user%3Abob')")
    wait_last(page, lines[1])
    assert texts(page) == [lines[1]]
    assert any("field=user%3Abob" in url for url in requests)
    append(log, ["status=500 user=alice", "status=501 user=bob"])
    wait_last(page, "status=501 user=bob")
    assert texts(page) == [lines[1], "status=501 user=bob"]

    page.locator("#field-add").fill("status>=501")
    page.locator("#field-add").press("Enter")
    expect(page.locator("#field-chips .field-chip")).to_have_text(["user:bob" + X, "status>=501" + X])
    wait_last(page, "status=501 user=bob")
    assert texts(page) == [lines[1], "status=501 user=bob"]

    # The URL restores chips and columns.
    page.goto(page.url)
    page.reload()
    expect(page.locator("#field-chips .field-chip")).to_have_text(["user:bob" + X, "status>=501" + X])
    wait_last(page, "status=501 user=bob")
    expect(page.locator("#panes .line").last.locator(".cell")).to_have_text(["501", "bob"])

    page.locator("#field-chips .field-chip").first.click()  # remove user:bob
    expect(page.locator("#field-chips .field-chip")).to_have_text(["status>=501" + X])
    wait_last(page, "status=501 user=bob")
    assert texts(page) == [lines[1], "status=501 user=bob"]
    assert hash_params(page)["field"] == ["status>=501"]

    page.locator("#field-add").fill("status>=oops")
    page.locator("#field-add").press("Enter")
    expect(page.locator("#filter-error")).to_contain_text("field: status>= needs a number")


def test_since_selector_reopens_the_stream_from_that_moment(
        page: Page, serve: Callable[..., LogtailServer], tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    old = [f"{iso_ago(s)} INFO {label}" for s, label in ((3 * 3600, "three hours"), (2400, "forty minutes"))]
    recent = [f"{iso_ago(s)} INFO {label}" for s, label in ((120, "two minutes"), (30, "half a minute"))]
    (tmp_path / "app.log.1").write_text("".join(line + "\n" for line in old))
    os.utime(tmp_path / "app.log.1", (time.time() - 2400, time.time() - 2400))
    append(log, recent)
    server = serve(str(log))
    open_dashboard(page, server, "log=app.log")
    wait_last(page, recent[-1])
    assert texts(page) == recent  # the backlog: the current file only

    requests = stream_requests(page)
    page.locator("#opt-since").select_option("1h")
    page.wait_for_function("() => location.hash.includes('since=1h')")
    page.wait_for_function("() => document.querySelectorAll('#panes .line').length === 3")
    assert texts(page) == [old[1], *recent]  # forty minutes ago is in NAME.1
    assert any("since=1h" in url for url in requests)

    page.locator("#opt-since").select_option("5m")
    page.wait_for_function("() => location.hash.includes('since=5m')")
    page.wait_for_function("() => document.querySelectorAll('#panes .line').length === 2")
    assert texts(page) == recent

    page.locator("#opt-since").select_option("custom")
    page.locator("#opt-since-custom").fill("4h")
    page.locator("#opt-since-custom").press("Enter")
    page.wait_for_function("() => document.querySelectorAll('#panes .line').length === 4")
    assert texts(page) == [*old, *recent]
    live = f"{iso_ago(0)} INFO live"
    append(log, [live])
    wait_last(page, live)
    assert texts(page)[:4] == [*old, *recent]

    page.reload()  # the custom value comes back from the URL
    expect(page.locator("#opt-since")).to_have_value("custom")
    expect(page.locator("#opt-since-custom")).to_have_value("4h")


def test_line_link_opens_the_log_around_the_line_after_rotation(
        page: Page, serve: Callable[..., LogtailServer], tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    lines = [f"line {i:02d}" for i in range(30)]
    append(log, lines)
    server = serve(str(log), "--backlog", "30")  # all 30 lines on the page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_dashboard(page, server, "log=app.log")
    wait_last(page, "line 29")

    target = page.locator("#panes .line").nth(15)
    expect(target.locator(".text")).to_have_text("line 15")
    target.hover()
    target.locator(".link").click()
    link = page.evaluate("navigator.clipboard.readText()")
    params = parse_qs(urlsplit(link).fragment)
    assert params["log"] == ["app.log"] and params["around"][0].startswith("app.log=")

    os.rename(log, tmp_path / "app.log.1")  # rotated: the line now lives in NAME.1
    append(log, ["after rotation"])
    page.goto("about:blank")
    page.goto(link)
    expect(page.locator("#history-search")).to_have_attribute("open", "")
    expect(page.locator("#hs-results .hs-target .text")).to_have_text("line 15")
    context = page.locator("#hs-results .hs-context .line .text")
    expect(context).to_have_text([f"line {i:02d}" for i in range(5, 26)])


def test_a_journal_lines_fields_are_columns(page: Page, serve: Callable[..., LogtailServer], tmp_path: Path) -> None:
    """A journal line's fields come beside its text (`fields` in its JSON): the page offers them as columns."""
    from tests.journal_support import JournalWriter, journal_messages

    with JournalWriter(tmp_path / "journal") as writer:
        writer.write("started", SYSLOG_IDENTIFIER="app")
        writer.write("user=alice action=login", SYSLOG_IDENTIFIER="login")
        wait_for_entries = time.monotonic() + 30
        while len(journal_messages(writer.directory)) < 2 and time.monotonic() < wait_for_entries:
            time.sleep(0.1)
        server = serve("journal", "--journal-directory", str(writer.directory))
        open_dashboard(page, server, "log=journal")
        wait_last(page, "user=alice action=login")
    page.locator("#columns > summary").click()
    page.locator("#column-list input[value=SYSLOG_IDENTIFIER]").check()
    page.locator("#column-list input[value=user]").check()
    expect(page.locator("#panes .line").nth(0).locator(".cell")).to_have_text(["app", ""])
    expect(page.locator("#panes .line").nth(1).locator(".cell")).to_have_text(["login", "alice"])
