"""The page's Watches section in Debian's headless Chromium: each watch, its state, count and sparkline."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.browser_support import TIMEOUT_MS, browser, page
from tests.receiver import Receiver
from tests.support import LogtailServer

__all__ = ["browser", "page"]  # fixtures used here by name

pytestmark = pytest.mark.browser


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def test_watches_section_shows_state_count_and_sparkline(
        tmp_path: Path, receiver: Receiver, page: Page, start_server: Callable[..., LogtailServer]) -> None:
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
    server = start_server("--config", str(config))
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
    page.on("request", lambda req: asked.append(req.url) if "/api/watches" in req.url else None)
    page.goto(f"{server.url}/")
    page.wait_for_load_state("networkidle")
    assert page.locator("#watches").is_hidden()
    assert asked == []  # no 404 to log in the console (Lighthouse counts it against best practices)
