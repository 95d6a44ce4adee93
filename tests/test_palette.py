"""The log colours of static/app.css (--c0 ... --c11, one per log of a view) are readable text on every
background a line can have, in both themes: WCAG AA, 4.5:1. axe checks the states a browser test opens;
this checks every colour on every background, whatever a test happens to show."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).resolve().parent.parent / "static" / "app.css").read_text()
BACKGROUNDS = ("--bg", "--panel", "--panel-2", "--error-bg", "--warn-bg")
THEMES = {
    "light": re.search(r":root \{(.*?)\n\}", CSS, re.S),
    "dark": re.search(r':root\[data-theme="dark"\] \{(.*?)\n\}', CSS, re.S),
    "dark by preference": re.search(r':root:not\(\[data-theme="light"\]\) \{(.*?)\n  \}', CSS, re.S),
}


def variables(block: str) -> dict[str, str]:
    return dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{6})", block))


def luminance(colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(colour[i:i + 2], 16) / 255) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("theme", list(THEMES))
def test_every_log_colour_is_readable_on_every_background(theme: str) -> None:
    found = THEMES[theme]
    assert found is not None, f"the {theme} theme's block is not where this test looks"
    own = variables(found.group(1))
    colours = {name: value for name, value in own.items() if re.fullmatch(r"--c\d+", name)}
    assert len(colours) == 12
    light = variables(THEMES["light"].group(1)) if THEMES["light"] else {}
    backgrounds = {name: own.get(name, light[name]) for name in BACKGROUNDS}
    low = [(name, value, bg, round(contrast(value, backgrounds[bg]), 2))
           for name, value in colours.items() for bg in BACKGROUNDS if contrast(value, backgrounds[bg]) < 4.5]
    assert low == []
