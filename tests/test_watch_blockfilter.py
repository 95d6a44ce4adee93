"""A filter over a whole block (logtail/watches/blockfilter.py) answers what `LineFilter.matches` answers for
each line: the watches count exactly what a stream with the same filter would show."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logtail.core.block import LineBlock
from logtail.core.frames import Line
from logtail.match.fields import FieldCache, parse_field_filters
from logtail.match.filters import LineFilter
from logtail.match.parsers import parser_for
from logtail.watches.blockfilter import Batch

TEXTS = [
    "2026-12-07T05:00:00Z ERROR request id=1 status=503 took=1200ms",
    "2026-12-07T05:00:01Z INFO ok status=200 took=3ms",
    "level=warn msg=\"slow disk\" status=500",
    "ERROR at the start",
    "trailing ERROR",
    "",
    "error: lower case",
    '{"level":"error","status":502,"msg":"upstream"}',
    "café ÉRROR ünïcode",
    "a b",
    "x",
    "tail a",  # with the next line, "a\nb" for a pattern that takes a newline: a match in neither line
    "b head",
    "  status=500 indented=yes",
    " {not json} status=501",
    "{broken json status=502",
    "id=1 status=503 then words",
]
PATTERNS = ["ERROR", "^ERROR", "ERROR$", r"\bok\b", r"a\sb", r"a[^z]b", r"ERROR\s*$", r"[^z]*", "x*",
            r"took=[0-9]{4,}ms", r"\AERROR", r"ERROR\z", "(?i)error", "(?m)^x$", "(?-m)^x", "é", r"\d+$", "^$"]


def block_of(texts: list[str], as_bytes: bool) -> LineBlock:
    data = "".join(t + "\n" for t in texts).encode()
    if as_bytes:
        return LineBlock.of_bytes("app.log", "000000000000", 100, data)
    lines, end = [], 100
    for text in texts:
        end += len(text.encode()) + 1
        lines.append(Line("app.log", text, "000000000000", end))
    return LineBlock.of_lines("app.log", lines)


def expected(flt: LineFilter, block: LineBlock) -> list[int]:
    parsed = FieldCache()
    return [i for i, line in enumerate(block.lines) if flt.matches(line.text, line.level, None, parsed)]


filters = st.builds(
    LineFilter,
    q=st.sampled_from(["", "ERROR", "error", "status=5", "é", " "]),
    regex=st.sampled_from(["", *PATTERNS]),
    ignore_case=st.booleans(),
    invert=st.booleans(),
    levels=st.sampled_from([frozenset(), frozenset({"error"}), frozenset({"info", "warn"})]),
    fields=st.sampled_from([(), parse_field_filters(["status>=500"]), parse_field_filters(["level:error"])]),
)


@settings(max_examples=400, deadline=None)
@given(flt=filters, texts=st.lists(st.sampled_from(TEXTS), min_size=0, max_size=12), as_bytes=st.booleans())
def test_a_block_answers_what_each_line_answers(flt: LineFilter, texts: list[str], as_bytes: bool) -> None:
    block = block_of(texts, as_bytes)
    assert Batch(block).hits(flt) == expected(flt, block_of(texts, as_bytes))


@pytest.mark.parametrize("pattern", PATTERNS)
def test_each_pattern_over_a_block_of_bytes(pattern: str) -> None:
    """Every pattern alone over every text at once: anchors, spans over a newline, empty matches."""
    block = block_of(TEXTS * 2, True)
    flt = LineFilter(regex=pattern)
    assert Batch(block).hits(flt) == expected(flt, block_of(TEXTS * 2, True))


@pytest.mark.parametrize("field", ["status>=500", "status!:200", "indented:yes", "level:error", "id~^1$"])
def test_each_field_filter_over_a_block_of_bytes(field: str) -> None:
    """Lines without fields skipped before parsing: indented pairs, JSON and broken JSON still parsed."""
    flt = LineFilter(fields=parse_field_filters([field]))
    assert Batch(block_of(TEXTS, True)).hits(flt) == expected(flt, block_of(TEXTS, True))


def test_the_lines_of_hits_are_the_blocks_lines() -> None:
    """A hit's line (what an alert carries) has the text and the position of the block's own line."""
    block = block_of(TEXTS, True)
    batch = Batch(block)
    picked = batch.lines(batch.hits(LineFilter(q="ERROR")))
    own = [line for line in block_of(TEXTS, True).lines if "ERROR" in line.text]
    assert [(line.text, line.end, line.level) for line in picked] == [(line.text, line.end, line.level)
                                                                        for line in own]


def test_levels_are_each_lines_level() -> None:
    block = block_of(TEXTS, True)
    assert Batch(block).levels == [line.level for line in block_of(TEXTS, True).lines]


def test_a_parsed_logs_fields_come_from_its_parser() -> None:
    """A watch with `field` over an nginx log counts by the parser's fields, as the log's stream filters."""
    parser = parser_for("nginx")
    ok = '127.0.0.1 - - [07/Dec/2026:05:00:00 +0000] "GET / HTTP/1.1" 200 12 "-" "curl"'
    bad = '127.0.0.1 - - [07/Dec/2026:05:00:01 +0000] "GET /x HTTP/1.1" 503 12 "-" "curl"'
    data = f"{ok}\n{bad}\n{ok}\n".encode()
    block = LineBlock.of_bytes("web", "000000000000", 0, data, parser)
    assert Batch(block).hits(LineFilter(fields=parse_field_filters(["status>=500"]))) == [1]
    assert Batch(block).levels == ["info", "error", "info"]
