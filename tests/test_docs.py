"""The documentation holds together: the README stays a front door that links every document, and every
relative link in the README, docs/ and bench/ reaches an existing file (and, with a #fragment, a heading)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted([README, *(ROOT / "docs").glob("*.md"), *(ROOT / "bench").glob("*.md")])
README_MAX_LINES = 260

FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def prose(text: str) -> str:
    """The text without fenced blocks and code spans, where `](x)` is not a link."""
    return CODE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text())):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def relative_links(path: Path) -> list[str]:
    return [t for t in LINK.findall(prose(path.read_text())) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


@pytest.mark.parametrize("slug_in, slug_out", [
    ("Ids and resuming", "ids-and-resuming"),
    ("`since=`", "since"),
    ("Round 3: throughput", "round-3-throughput"),
    ("1. Install", "1-install"),
    ("Issue 3's scenarios", "issue-3s-scenarios"),
])
def test_slug_follows_github(slug_in: str, slug_out: str) -> None:
    assert slug(slug_in) == slug_out


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_reaches_a_file_and_heading(doc: Path) -> None:
    broken = []
    for link in relative_links(doc):
        target, _, fragment = link.partition("#")
        file = (doc.parent / target).resolve() if target else doc
        if not file.exists():
            broken.append(f"{link}: no such file")
        elif fragment and file.suffix == ".md" and fragment not in anchors(file):
            broken.append(f"{link}: no heading #{fragment} in {file.relative_to(ROOT)}")
    assert not broken, f"{doc.relative_to(ROOT)}: {broken}"


def test_readme_is_a_front_door() -> None:
    assert len(README.read_text().splitlines()) <= README_MAX_LINES


def test_readme_links_every_document() -> None:
    linked = {(ROOT / link.partition("#")[0]).resolve() for link in relative_links(README)}
    missing = [str(doc.relative_to(ROOT)) for doc in DOCS if doc != README and doc not in linked]
    assert not missing, f"README.md links none of {missing}"
