"""The page's Watches section in Debian's headless Chromium: each watch, its state, count and sparkline; a
watch's live view with the lines that fired marked; the line rates by level above a log's pane."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser_support import TIMEOUT_MS, browser, open_dashboard, page
from tests.receiver import Receiver
from tests.support import LogtailServer, wait_for

__all__ = ["browser", "page"]  # fixtures used here by name

pytestmark = pytest.mark.browser


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def _errors_watch(tmp_path: Path, receiver: Receiver,
                  start_server: Callable[..., LogtailServer]) -> tuple[Path, LogtailServer]:
    """A server with one watch, `errors` (two ERROR lines of app.log alert the receiver), and its log."""
    log = tmp_path / "app.log"
    log.touch()
    config = tmp_path / "logtail.toml"
    config.write_text(f"""
sources = ["app.log"]
[destinations.hook]
url = "{receiver.url}"
[watches.errors]
logs = ["app.log"]
q = "ERROR"
threshold = 2
notify = ["hook"]
""")
    return log, start_server("--config", str(config))


def test_watches_section_shows_state_count_and_sparkline(
        tmp_path: Path, receiver: Receiver, page: Page, start_server: Callable[..., LogtailServer]) -> None:
    log, server = _errors_watch(tmp_path, receiver, start_server)
    with log.open("a") as f:
        f.write("ERROR a\nERROR b\nINFO c\n")
    page.goto(f"{server.url}/")
    row = page.locator('#watch-list li[data-watch="errors"]')
    # The first render may come before the lines are counted: the section refreshes; reload until it shows.
    for _ in range(20):
        if row.count() and "2 matches" in row.inner_text():
            break
        page.wait_for_timeout(500)
        page.reload()
    assert page.locator("#watches").is_visible()
    assert row.locator(".watch-count").inner_text() == "2 matches"
    assert row.locator(".watch-state").get_attribute("data-state") == "firing"
    points = row.locator("svg.sparkline polyline").get_attribute("points", timeout=TIMEOUT_MS) or ""
    assert len(points.split()) == 60  # one point per minute of the last hour
    assert points.split()[-1].endswith(",1.0")  # the current minute is the highest
    assert row.locator("a").get_attribute("href") == "/api/watches/errors/stream?format=text&backlog=100"


def test_a_server_without_watches_hides_the_section(page: Page, tmp_path: Path,
                                                    start_server: Callable[..., LogtailServer]) -> None:
    log = tmp_path / "app.log"
    log.touch()
    server = start_server(str(log))
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(f"{server.url}/#log=app.log")
    page.wait_for_load_state("networkidle")
    assert page.locator("#watches").is_hidden()
    assert not [url for url in asked if "/api/watches" in url]  # no 404 in the console (Lighthouse counts it)
    assert not [url for url in asked if "/api/levels" in url]  # nothing counted by level: no volume bars
    assert page.locator(".volumes").count() == 0


def test_a_watch_opens_its_live_view_with_the_lines_that_fired_marked(
        tmp_path: Path, receiver: Receiver, page: Page, start_server: Callable[..., LogtailServer]) -> None:
    log, server = _errors_watch(tmp_path, receiver, start_server)
    with log.open("a") as f:
        f.write("ERROR a\nERROR b\nINFO c\n")
    wait_for(lambda: receiver.alerts(), what="the alert of ERROR a and ERROR b")
    with log.open("a") as f:
        f.write("ERROR later\n")  # one match: below the threshold, fires nothing
    open_dashboard(page, server, "log=app.log")
    page.locator('#watch-list li[data-watch="errors"] a').click()
    view = page.get_by_role("dialog", name="Watch errors")
    expect(view).to_be_visible()
    lines = view.locator("li.watch-line")
    expect(lines).to_have_count(3)  # the watch's filter: no INFO line
    expect(lines.locator(".watch-line-text")).to_have_text(["ERROR a", "ERROR b", "ERROR later"])
    expect(view.locator("li.fired .watch-line-text")).to_have_text(["ERROR a", "ERROR b"])
    with log.open("a") as f:
        f.write("INFO d\nERROR live\n")
    expect(lines.last.locator(".watch-line-text")).to_have_text("ERROR live")
    view.get_by_role("button", name="Close").click()
    expect(page.locator("dialog.watch-view")).to_have_count(0)


def test_a_logs_pane_shows_its_line_rates_by_level(
        tmp_path: Path, receiver: Receiver, page: Page, start_server: Callable[..., LogtailServer]) -> None:
    log = tmp_path / "app.log"
    log.touch()
    config = tmp_path / "logtail.toml"
    config.write_text('sources = ["app.log"]\n[watches.errors]\nlogs = ["app.log"]\nq = "ERROR"\n')
    server = start_server("--config", str(config))
    open_dashboard(page, server, "log=app.log")
    volume = page.locator('#panes .pane-head .volume[data-volume-of="app.log"]')
    expect(volume).to_have_count(1)
    with log.open("a") as f:  # between two polls of the counts (5 s apart): a rate by level
        f.write("ERROR x\n" * 20 + "INFO y\n" * 30)
    expect(volume.locator("rect.vol-error")).to_have_count(1, timeout=15_000)
    expect(volume.locator("rect.vol-info")).to_have_count(1)
    label = volume.locator("svg").get_attribute("aria-label") or ""
    assert label.startswith("app.log: ") and "error" in label and "info" in label, label


def test_the_volume_bars_arithmetic(page: Page, tmp_path: Path, start_server: Callable[..., LogtailServer]) -> None:
    log = tmp_path / "app.log"
    log.touch()
    server = start_server(str(log))
    page.goto(f"{server.url}/")
    result = page.evaluate("""async () => {
        const { rates, bars } = await import('/static/volume.js');
        const { firedIds } = await import('/static/watchview.js');
        const r = rates({error: 2, info: 10}, {error: 12, info: 10, warn: 5}, 5);
        const b = bars([r, {error: 0, warn: 0, info: 4, debug: 0, none: 0}], 120, 16);
        const ids = firedIds({recent_alerts: [{lines: [{id: 'a'}]}, {lines: [{id: 'b'}, {id: 'c'}]}]});
        return { r, b, ids: [...ids] };
    }""")
    assert result["r"] == {"error": 2, "warn": 1, "info": 0, "debug": 0, "none": 0}
    # Newest on the right (24 slots of 5 units); the busiest sample (4 lines/s) fills the height.
    first = [(x["level"], x["x"], round(x["height"], 2)) for x in result["b"] if x["x"] < 115]
    assert first == [("error", 110, 8.0), ("warn", 110, 4.0)]
    assert [(x["level"], x["x"], round(x["height"], 2)) for x in result["b"] if x["x"] >= 115] == [("info", 115, 16.0)]
    assert result["ids"] == ["a", "b", "c"]
