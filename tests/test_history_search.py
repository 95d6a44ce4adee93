"""The search engine, run directly over files (the HTTP side is in test_history.py)."""

from __future__ import annotations

import gzip
from pathlib import Path

from logtail.match.filters import LineFilter
from logtail.sources.base import SearchRequest
from logtail.sources.files.search import Search
from logtail.sources.files.siblings import open_chain


def test_gzip_context_before_when_fewer_lines_were_seen(tmp_path: Path) -> None:
    """Regression: with fewer remembered lines than wanted, a negative slice kept only the last ones."""
    gz = tmp_path / "x.log.1.gz"
    gz.write_bytes(gzip.compress(b"one\ntwo\n" + b"y" * 2_500_000 + b"\nthree hit\n"))  # 3 blocks of 1 MiB
    files = open_chain(tmp_path / "x.log", siblings=True)
    try:
        search = Search("x.log", files, SearchRequest(LineFilter(q="hit"), context=5, rotated=True), 100)
        hits = [h for step in iter(search.step, None) for h in step]
    finally:
        for f in files:
            f.close()
    assert [(h["text"], h["context_before"]) for h in hits] == [("three hit", ["one", "two", "y" * 100])]

