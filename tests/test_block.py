"""Blocks: a clean read kept as its bytes gives exactly the frames and lines the per-line path gives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logtail.core.block import LineBlock
from logtail.core.frames import Line
from logtail.core.lines import LineSplitter, is_clean
from logtail.match.parsers import parser_for
from tests.hub_support import FORMATS, PIECES

FID = "0123456789ab"


def per_line(log: str, chunks: list[bytes], cap: int, start: int) -> list[Line]:
    """The reference: every line through `LineSplitter.feed`, as the follower built them before blocks."""
    splitter = LineSplitter(cap, start)
    return [Line(log, r.text, FID, r.end, r.truncated) for chunk in chunks for r in splitter.feed(chunk)]


def follower_rule(log: str, chunks: list[bytes], cap: int, start: int) -> tuple[list[LineBlock], int]:
    """What the follower publishes for these reads (follow.FileFollower._split past the file's head), and how
    many of them went out as bytes."""
    splitter = LineSplitter(cap, start)
    blocks, clean = [], 0
    for chunk in chunks:
        read = splitter.feed_clean(chunk)
        if read is not None:
            blocks.append(LineBlock.of_bytes(log, FID, *read))
            clean += 1
        else:
            lines = [Line(log, r.text, FID, r.end, r.truncated) for r in splitter.feed(chunk)]
            blocks.append(LineBlock.of_lines(log, lines))
    return blocks, clean


def fields(line: Line) -> tuple[object, ...]:
    return line.log, line.text, line.fid, line.end, line.truncated, line.level, line.cursor


@settings(max_examples=200, deadline=None)
@given(
    chunks=st.lists(st.lists(st.sampled_from(PIECES), max_size=12).map(b"".join), max_size=8),
    cap=st.integers(1, 24),
    log=st.sampled_from(["app.log", "we%ird{0}.log", 'q"uote'])
)
def test_follower_rule_gives_the_per_line_bytes_and_lines(chunks: list[bytes], cap: int, log: str) -> None:
    start = 1000
    reference = per_line(log, chunks, cap, start)
    blocks, _ = follower_rule(log, chunks, cap, start)
    for fmt in FORMATS:
        assert b"".join(b.frames(fmt) for b in blocks) == b"".join(line.frame(fmt) for line in reference), fmt
    assert [fields(line) for b in blocks for line in b.lines] == [fields(line) for line in reference]
    assert sum(b.count for b in blocks) == len(reference)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(st.characters(exclude_characters="\r\n\x00", exclude_categories=["Cs"]), max_size=40),
                min_size=1, max_size=30))
def test_clean_text_lines_frame_as_line_frame_does(texts: list[str]) -> None:
    data = "".join(t + "\n" for t in texts).encode()
    assert is_clean(data, 1 << 16)
    block = LineBlock.of_bytes("a", FID, 300, data)
    lines = LineBlock.of_bytes("a", FID, 300, data).lines
    assert [line.text for line in lines] == texts
    for fmt in FORMATS:
        assert block.frames(fmt) == b"".join(line.frame(fmt) for line in lines)


ACCESS_PIECES = [
    '203.0.113.9 - alice [10/Oct/2026:13:55:36 +0000] "GET /a?b=1 HTTP/1.1" 503 12 "-" "curl/8"',
    '2001:db8::1 - - [10/Oct/2026:13:55:36 +0000] "POST /x\\x22y HTTP/2.0" 404 - "-" "Mo\\"zilla" rt=0.5',
    '10.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "-" 400 0 "-" "-"',
    '10.0.0.1 - b\u00e9 [x] "GET / HTTP/1.1" 200 5 "\x01" "\u2028" extra words',
    "not an access line ERROR here",
]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(ACCESS_PIECES), min_size=1, max_size=20),
       st.sampled_from(["nginx", "syslog", "(?P<status>\\d+)"]))
def test_a_parsed_logs_block_frames_as_its_lines_do(texts: list[str], spec: str) -> None:
    """A parsed log's clean read is encoded for the whole block (levels and fields as each line's own)."""
    parser = parser_for(spec)
    data = "".join(t + "\n" for t in texts).encode()
    block = LineBlock.of_bytes("a", FID, 300, data, parser)
    lines = [Line("a", t, FID, line.end, False, parser) for t, line in zip(texts, block.lines, strict=True)]
    for fmt in FORMATS:
        assert block.frames(fmt) == b"".join(line.frame(fmt) for line in lines), fmt


def test_clean_reads_go_out_as_the_bytes_read() -> None:
    """The fast path is taken for ordinary lines (else the property test above proves nothing), a held
    partial line included, and the text frames are the very bytes."""
    blocks, clean = follower_rule("a", [b"one\ntw", b"o\nthree\npart"], 64, 500)
    assert clean == 2
    assert [b.frames("text") for b in blocks] == [b"one\n", b"two\nthree\n"]
    assert [(line.text, line.end) for b in blocks for line in b.lines] == [("one", 504), ("two", 508),
                                                                          ("three", 514)]


@pytest.mark.parametrize(
    ("data", "cap"),
    [(b"a\r\n", 64), (b"a\rb\n", 64), (b"bad \xff\n", 64), (b"cut \xc3\n", 64), (b"x" * 65 + b"\n", 64),
     (b"ok\n" + b"y" * 30 + b"\nok\n", 29)],
    ids=["crlf", "inner-cr", "invalid-utf8", "split-char", "over-cap", "over-cap-inside"],
)
def test_lines_needing_work_take_the_per_line_path(data: bytes, cap: int) -> None:
    assert not is_clean(data, cap)
    assert LineSplitter(cap).feed_clean(data) is None


def test_line_of_exactly_the_cap_is_clean() -> None:
    assert is_clean(b"abcd\n" * 3, 4)
    assert is_clean(b"ab\n" + b"x" * 100 + b"\n", 100)
    assert not is_clean(b"ab\n" + b"x" * 101 + b"\n", 100)


def test_over_long_pending_line_is_never_clean() -> None:
    """A held line that already overflowed was cut: its end must go through `feed` for the flag."""
    splitter = LineSplitter(8, 0)
    assert splitter.feed(b"z" * 20) == []
    assert splitter.feed_clean(b"\nok\n") is None


def test_index_of_finds_line_ends_only() -> None:
    block = LineBlock.of_bytes("a", FID, 100, b"ab\ncd\n\nef\n")
    assert [block.index_of(FID, end) for end in (103, 106, 107, 110)] == [0, 1, 2, 3]
    assert block.index_of(FID, 102) is None  # inside a line
    assert block.index_of(FID, 100) is None  # the block's start is the end of a line of an earlier block
    assert block.index_of(FID, 111) is None
    assert block.index_of("ffffffffffff", 103) is None
    listed = LineBlock.of_lines("a", block.lines)
    assert [listed.index_of(FID, end) for end in (103, 110, 102)] == [0, 3, None]


def test_block_frames_exact_bytes() -> None:
    """The wire bytes of a block of bytes, pinned as test_frames pins a Line's."""
    block = LineBlock.of_bytes("app.log", FID, 30, b"ERROR boom\nx \"q\" lvl=info\n")
    assert block.frames("sse") == (
        b'id: app.log=0123456789ab:41\nevent: line\ndata: {"log":"app.log","text":"ERROR boom",'
        b'"id":"app.log=0123456789ab:41","level":"error"}\n\n'
        b'id: app.log=0123456789ab:56\nevent: line\ndata: {"log":"app.log","text":"x \\"q\\" lvl=info",'
        b'"id":"app.log=0123456789ab:56","level":"info"}\n\n'
    )
    assert block.frames("ndjson") == (
        b'{"log":"app.log","text":"ERROR boom","id":"app.log=0123456789ab:41","level":"error"}\n'
        b'{"log":"app.log","text":"x \\"q\\" lvl=info","id":"app.log=0123456789ab:56","level":"info"}\n'
    )
    assert block.frames("text") is block.data
