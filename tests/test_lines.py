"""The line splitter: complete lines only, exact offsets, CRLF, invalid UTF-8, the length cap."""

from __future__ import annotations

import pytest

from logtail.core.lines import LineSplitter, RawLine, cut_at_char_boundary


def feed_all(chunks: list[bytes], cap: int = 65536) -> list[RawLine]:
    splitter = LineSplitter(cap)
    out: list[RawLine] = []
    for chunk in chunks:
        out.extend(splitter.feed(chunk))
    return out


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([b"a\nb\n"], [("a", 2), ("b", 4)]),
        ([b"a\r\nb\n"], [("a", 3), ("b", 5)]),
        ([b"\n\n"], [("", 1), ("", 2)]),
        ([b"par", b"tial\n"], [("partial", 8)]),
        ([b"no newline yet"], []),
        ([b"caf\xc3", b"\xa9\n"], [("café", 6)]),
        ([b"bad \xff byte\n"], [("bad \ufffd byte", 11)]),
        ([b"a\rb\n"], [("a\rb", 4)]),
        ([b"x\r", b"\n"], [("x", 3)]),
    ],
    ids=["two", "crlf", "empty-lines", "split", "partial-held", "utf8-split", "invalid-utf8", "inner-cr",
         "crlf-split"],
)
def test_splitting(chunks: list[bytes], expected: list[tuple[str, int]]) -> None:
    assert [(line.text, line.end) for line in feed_all(chunks)] == expected


def test_long_line_is_cut_and_flagged_and_next_line_is_intact() -> None:
    lines = feed_all([b"x" * 100 + b"\nnext\n"], cap=10)
    assert lines == [RawLine("x" * 10, 101, True), RawLine("next", 106)]


def test_long_line_across_many_chunks_holds_at_most_the_cap() -> None:
    splitter = LineSplitter(16)
    for _ in range(1000):
        assert splitter.feed(b"y" * 1000) == []
        assert splitter.pending_bytes <= 16 + 4
    assert splitter.feed(b"\nok\n") == [RawLine("y" * 16, 1_000_001, True), RawLine("ok", 1_000_004)]


def test_cut_never_splits_a_character() -> None:
    lines = feed_all(["é".encode() * 10 + b"\n"], cap=5)
    assert lines[0].text == "éé" and lines[0].truncated


def test_line_of_exactly_the_cap_is_not_truncated() -> None:
    assert feed_all([b"abcd\r\n"], cap=4) == [RawLine("abcd", 6)]


def test_line_start_tracks_the_pending_line() -> None:
    splitter = LineSplitter()
    splitter.feed(b"one\ntw")
    assert splitter.line_start == 4 and splitter.offset == 6


def test_cut_at_char_boundary() -> None:
    assert cut_at_char_boundary("aé".encode(), 2) == b"a"
    assert cut_at_char_boundary(b"abc", 5) == b"abc"
