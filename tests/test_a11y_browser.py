"""The dashboard for every user, in Chromium: axe-core finds no serious or critical violation in any state of
the page (one log, side by side, a search, columns, paused, reconnecting, 390 px wide) in either theme."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser_support import axe_violations, browser, describe, open_dashboard, page, serve, wait_last
from tests.streams import append
from tests.support import LogtailServer

__all__ = ["browser", "page", "serve"]  # fixtures used here by name

pytestmark = pytest.mark.browser


def job(i: int, level: str) -> str:
    return json.dumps({"time": f"2026-12-07T08:00:{i:02d}Z", "level": level, "msg": f"job {i} done",
                       "job": f"j{i}", "duration_ms": 10 * i})


def logs(tmp_path: Path) -> tuple[Path, Path]:
    app, jobs = tmp_path / "app.log", tmp_path / "jobs.jsonl"
    append(app, ["ERROR boom", "WARN careful", "INFO fine", "DEBUG noise", "plain line 1 boom"])
    append(jobs, [job(i, level) for i, level in enumerate(["info", "warn", "error", "debug", "info"])])
    return app, jobs


def reopen(pg: Page, server: LogtailServer, fragment: str) -> None:
    """Load the page afresh with another permalink (a change of the fragment alone loads nothing)."""
    pg.goto("about:blank")
    open_dashboard(pg, server, fragment)


class Audit:
    """Runs axe in each state of the page and keeps what it found, by state."""

    def __init__(self, pg: Page) -> None:
        self.page = pg
        self.found: dict[str, list[dict[str, Any]]] = {}

    def __call__(self, state: str) -> None:
        violations = axe_violations(self.page)
        if violations:
            self.found[state] = violations

    def check(self) -> None:
        assert self.found == {}, describe([{"state": k, "violations": v} for k, v in self.found.items()])


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_axe_finds_no_serious_violation_in_any_state(page: Page, serve: Callable[..., LogtailServer],
                                                     tmp_path: Path, theme: str) -> None:
    app, jobs = logs(tmp_path)
    server = serve(str(app), str(jobs))
    page.emulate_media(color_scheme=theme)
    audit = Audit(page)

    open_dashboard(page, server, "log=app.log")
    wait_last(page, "plain line 1 boom")
    page.locator("#panes .line").last.hover()  # its copy and link buttons shown
    audit("one log")

    page.locator("#filter").fill("boom")
    expect(page.locator("#panes mark")).to_have_count(2)
    audit("filter")
    page.locator("#history-search summary").click()
    page.locator("#hs-q").fill("careful")
    page.locator("#hs-form button[type=submit]").click()
    expect(page.locator("#hs-results li")).to_have_count(1)
    audit("search")

    reopen(page, server, "log=app.log&log=jobs.jsonl&view=split")
    expect(page.locator("#panes .pane")).to_have_count(2)
    expect(page.locator("#panes .line")).to_have_count(10)
    audit("side by side")

    reopen(page, server, "log=jobs.jsonl&column=level&column=job")
    expect(page.locator("#panes .line")).to_have_count(5)
    page.locator("#panes .line details.json summary").first.click()
    page.locator("#columns summary").click()
    expect(page.locator("#column-list input")).not_to_have_count(0)
    audit("columns")

    page.locator("#pause").click()
    append(jobs, [job(9, "info")])
    expect(page.locator("#held")).to_be_visible()
    audit("paused")

    page.set_viewport_size({"width": 390, "height": 844})
    reopen(page, server, "log=app.log")
    audit("390 px")
    page.locator("#toggle-sidebar").click()
    audit("390 px, Logs drawer open")
    page.locator("#toggle-sidebar").click()
    page.locator("#toggle-options").click()
    audit("390 px, options open")

    server.stop()
    expect(page.locator("#status")).to_have_attribute("data-state", "reconnecting")
    audit("reconnecting")
    audit.check()
