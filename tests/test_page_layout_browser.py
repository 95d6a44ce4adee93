"""How the page lays lines out (static/columns.js, colours.js, notices.js), measured in Debian's headless
Chromium against a real server: field columns as an aligned grid under a header row, one line high, a
missing value a blank cell; each log of a view a colour far from its neighbours'; notices styled by
severity with a badge drawn in CSS around a character every font has.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser_support import browser, open_dashboard, page, serve, wait_last
from tests.streams import append
from tests.support import LogtailServer

__all__ = ["browser", "page", "serve"]  # fixtures used here by name

pytestmark = pytest.mark.browser

# Each row: its top and height, and the left edge of the tag, of each cell and of the line's own text.
ROWS_JS = """() => [...document.querySelectorAll('#panes .pane-body .cols-head, #panes .line')].map((row) => {
  const box = row.getBoundingClientRect();
  const left = (el) => el ? Math.round(el.getBoundingClientRect().left) : null;
  return {head: row.classList.contains('cols-head'), height: box.height, tag: left(row.querySelector('.tag')),
          cells: [...row.querySelectorAll('.cell')].map(left),
          texts: [...row.querySelectorAll('.cell')].map((c) => c.textContent),
          rest: left(row.querySelector(':scope > .text, :scope > details, :scope > .cols-rest'))};
})"""
LINE_HEIGHT_JS = "() => parseFloat(getComputedStyle(document.querySelector('#panes .pane-body')).lineHeight)"


def job(**fields: Any) -> str:
    return json.dumps({"time": "2026-12-07T08:00:00Z", "msg": "job step", **fields})


@pytest.mark.parametrize("wrap", ["&wrap=0", ""])
def test_columns_line_up_under_a_header_one_line_high_with_blank_missing_cells(
        page: Page, serve: Callable[..., LogtailServer], tmp_path: Path, wrap: str) -> None:
    log = tmp_path / "jobs.jsonl"
    lines = [job(level="info", job="backup", duration_ms=1200), job(level="warn", job="reindex-all-the-things"),
             job(level="error", duration_ms=7), job(job="x"), job(level="debug", job="mail", duration_ms=123456)]
    append(log, lines)
    server = serve(str(log), "--backlog", "10")
    page.set_viewport_size({"width": 1600, "height": 800})  # wrapping on, these lines fit in one
    open_dashboard(page, server, f"log=jobs.jsonl&column=level&column=job&column=duration_ms{wrap}")
    expect(page.locator("#panes .line")).to_have_count(len(lines))
    page.wait_for_function("() => getComputedStyle(document.getElementById('panes')).getPropertyValue('--col-1')"
                           " === '22ch'")  # the job column grew to its longest value
    rows = page.evaluate(ROWS_JS)
    head, body = rows[0], rows[1:]
    assert head["head"] and head["texts"] == ["level", "job", "duration_ms"]
    assert [r["texts"] for r in body] == [["info", "backup", "1200"], ["warn", "reindex-all-the-things", ""],
                                          ["error", "", "7"], ["", "x", ""], ["debug", "mail", "123456"]]
    line_height = page.evaluate(LINE_HEIGHT_JS)
    for row in rows:
        assert row["height"] <= line_height * 1.4, f"a row {row['height']} px high: {row}"
        assert row["cells"] == head["cells"], "a column does not line up with its header"
        assert row["rest"] == head["rest"], "the lines' text does not start at one x"
    assert head["cells"] == sorted(head["cells"]) and len(set(head["cells"])) == 3


def lab(rgb: str) -> tuple[float, float, float]:
    """CIELAB of a computed `rgb(r, g, b)` colour (D65)."""
    r, g, b = (int(v) / 255 for v in rgb[rgb.index("(") + 1:rgb.index(")")].split(",")[:3])
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    x = (0.4124 * lin[0] + 0.3576 * lin[1] + 0.1805 * lin[2]) / 0.95047
    y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    z = (0.0193 * lin[0] + 0.1192 * lin[1] + 0.9505 * lin[2]) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def distance(a: str, b: str) -> float:
    return float(sum((p - q) ** 2 for p, q in zip(lab(a), lab(b), strict=True)) ** 0.5)


TAG_COLOURS_JS = """() => [...document.querySelectorAll('#panes .pane-head .pane-log .swatch')].map(
  (s) => getComputedStyle(s).backgroundColor)"""


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_each_log_of_a_view_gets_a_colour_far_from_its_neighbours(
        page: Page, serve: Callable[..., LogtailServer], tmp_path: Path, theme: str) -> None:
    # Names a hash coloured alike: two hosts' copies of one log, side by side in the list and the view.
    names = [f"app-web{i}.log" for i in range(1, 13)]
    for name in names:
        append(tmp_path / name, [f"hello from {name}"])
    server = serve(*(str(tmp_path / name) for name in names))
    page.emulate_media(color_scheme=theme)
    open_dashboard(page, server, "&".join(f"log={name}" for name in names))
    wait_last(page, "hello from app-web12.log")
    colours = page.evaluate(TAG_COLOURS_JS)
    assert len(colours) == 12
    neighbours = [distance(colours[i], colours[i + 1]) for i in range(11)]
    assert min(neighbours) > 35, f"neighbouring logs' colours too close (CIE76): {neighbours}"
    pairs = [distance(a, b) for i, a in enumerate(colours) for b in colours[i + 1:]]
    assert min(pairs) > 15, "two logs of the view have near-identical colours"
    tags = page.evaluate("() => [...document.querySelectorAll('#panes .line .tag')].map("
                         "(t) => [t.textContent, getComputedStyle(t).color])")
    assert {text: colour for text, colour in tags} == dict(zip(names, colours, strict=True))


BADGE_JS = """(sel) => {
  const el = document.querySelector(sel);
  const badge = getComputedStyle(el, '::before');
  return {content: badge.content, background: badge.backgroundColor, bar: getComputedStyle(el).borderLeftColor,
          text: el.textContent};
}"""
VAR_JS = "(name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim()"


def hex_rgb(value: str) -> str:
    return f"rgb({int(value[1:3], 16)}, {int(value[3:5], 16)}, {int(value[5:7], 16)})"


def test_notices_are_styled_by_severity_with_a_css_badge(
        page: Page, serve: Callable[..., LogtailServer], tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    server = serve(str(log))  # not there yet: a `missing` notice (a warning), then `appeared` (info)
    open_dashboard(page, server, "log=app.log")
    log.write_text("")
    expect(page.locator("#panes .notice-appeared")).to_have_count(1)
    warn, info = page.evaluate(VAR_JS, "--warn"), page.evaluate(VAR_JS, "--info")
    appeared = page.evaluate(BADGE_JS, "#panes .notice-appeared")
    assert appeared["content"] == '"i"' and appeared["background"] == hex_rgb(info) == appeared["bar"]
    append(log, ["one line"])
    wait_last(page, "one line")
    log.write_text("")  # truncated: a warning
    expect(page.locator("#panes .notice-truncated")).to_have_count(1)
    truncated = page.evaluate(BADGE_JS, "#panes .notice-truncated")
    assert truncated["content"] == '"!"' and truncated["background"] == hex_rgb(warn) == truncated["bar"]
    assert page.locator("#panes .notice-truncated.sev-warning").count() == 1
    # The badge's character is ASCII: drawn by any font (a symbol glyph draws as a box where it is missing).
    assert all(ord(ch) < 128 for ch in appeared["content"] + truncated["content"])
