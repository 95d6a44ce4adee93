"""Browser fixtures and page helpers for the dashboard tests: Debian's headless Chromium driven by Playwright.

No tool downloads a browser: a missing /usr/bin/chromium is a skip on a developer's machine (with the command
to install it) and a failure in CI. Test modules import the fixtures they use (`browser`, `page`, `serve`).
`axe_violations` audits the page with axe-core (from npm, installed by scripts/setup), likewise a skip or a
failure when it is missing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import LogtailServer

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("Playwright for Python is missing: run scripts/setup", allow_module_level=True)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 10_000
AXE = Path(__file__).parent.parent / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")

TEXTS_JS = "() => [...document.querySelectorAll('#panes .line .text')].map((e) => e.textContent)"
LAST_TEXT_IS_JS = """(want) => {
  const all = document.querySelectorAll('#panes .line .text');
  return all.length > 0 && all[all.length - 1].textContent === want;
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = ("Debian's chromium is not installed at /usr/bin/chromium: "
                   "run `sudo apt-get install chromium` (or scripts/setup --system)")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as pw:
        # Playwright starts it with a fresh, empty profile directory of its own.
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page; uncaught script errors and CSP violations fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    pg.on("console", lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None)
    try:
        yield pg
    finally:
        context.close()
    assert problems == []


@pytest.fixture
def serve(start_server: Callable[..., LogtailServer]) -> Callable[..., LogtailServer]:
    """The suite's `start_server` (conftest.py) under the name the browser tests use."""
    return start_server


def texts(pg: Page) -> list[str]:
    return list(pg.evaluate(TEXTS_JS))


def wait_last(pg: Page, text: str, timeout: int = TIMEOUT_MS) -> None:
    pg.wait_for_function(LAST_TEXT_IS_JS, arg=text, timeout=timeout)


def open_dashboard(pg: Page, server: LogtailServer | str, fragment: str) -> None:
    """Open the page at a server (or a base URL such as a proxy's) with a permalink fragment."""
    base = server if isinstance(server, str) else f"{server.url}{server.root_path}"
    response = pg.goto(f"{base}/#{fragment}")
    assert response is not None and response.status == 200, f"GET {base}/ answered {response and response.status}"
    expect(pg.locator("#status")).to_have_attribute("data-state", "live")


def stream_requests(pg: Page) -> list[str]:
    """URLs of the EventSource requests the page makes from now on."""
    urls: list[str] = []
    pg.on("request", lambda req: urls.append(req.url) if req.resource_type == "eventsource" else None)
    return urls


def axe_violations(pg: Page, impacts: tuple[str, ...] = SERIOUS) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.x A/AA violations of these impacts on the page as it is now, as
    {id, impact, help, targets} (each target with axe's failure summary, e.g. the contrast measured).

    The page's CSP allows no script but its own, and Chromium's Page.setBypassCSP only acts on the next
    document: axe's script is evaluated through the DevTools protocol instead (as any `evaluate` is), which
    the policy does not govern, so the page keeps its real CSP and is audited under it."""
    if not AXE.exists():
        message = "axe-core is not installed in node_modules: run scripts/setup (it needs npm)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    if not pg.evaluate("() => typeof window.axe === 'object'"):
        pg.evaluate(AXE.read_text(encoding="utf-8"))
    found = pg.evaluate("""async () => {
      const tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"];
      const result = await axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
      return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
        targets: v.nodes.map((n) => `${n.target.join(" ")}: ${n.failureSummary}`) }));
    }""")
    return [v for v in found if v["impact"] in impacts]


def describe(violations: list[dict[str, Any]]) -> str:
    """The violations, readable in an assertion message."""
    return json.dumps(violations, indent=1)[:30000]
