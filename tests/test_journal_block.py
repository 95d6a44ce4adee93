"""A batch of journal entries made a column at a time (sources/journal/block.py) gives exactly the lines and
the bytes of every format that the entry-by-entry path (entry.py) gives, whatever the entries hold."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logtail.core.cursor import Cursor
from logtail.core.frames import Line
from logtail.core.hub import Hub
from logtail.core.subscription import Subscription
from logtail.match.fields import parse_field_filters
from logtail.match.filters import LineFilter
from logtail.sources.journal.block import JournalBlock
from logtail.sources.journal.entry import MAX_FIELD_CHARS, JournalLine, parse_entries
from logtail.sources.journal.export import ExportReader
from tests.hub_support import FORMATS
from tests.journal_support import export_field

SEQNUM_IDS = ["d44c71bafec04e33aca0883dd671372d", "0123456789abcdef0123456789abcdef"]
# Values that take each path: plain, JSON-escaped (quote, backslash, tab, control), not ASCII, `=` inside,
# a JSON MESSAGE (its own fields), a level word, binary (a newline, bytes that are not UTF-8), long.
VALUES = ["GET /api 200", 'say "hi"', "back\\slash", "tab\there", "bell\x07", "é日本", "a=b c=d", '{"k": "v"}',
          "ERROR: disk", "WARNING", "", "two\nlines", b"\xff\xfe", "x" * 40, "y" * (MAX_FIELD_CHARS + 1)]
NAMES = ["MESSAGE", "PRIORITY", "_SYSTEMD_UNIT", "_PID", "TAG"]
PRIORITIES = ["0", "3", "4", "5", "6", "7", "9", "x"]


def export_entry(seqnum_id: str, seqnum: int, fields: list[tuple[str, str | bytes]]) -> bytes:
    head = (f"__CURSOR=s={seqnum_id};i={seqnum:x};b=1;m=5;t=6;x=7\n"
            f"__REALTIME_TIMESTAMP={1_700_000_000_000_000 + seqnum}\n__MONOTONIC_TIMESTAMP=5\n").encode()
    return head + b"".join(export_field(name, value) for name, value in fields) + b"\n"


field = st.one_of(st.tuples(st.sampled_from(NAMES), st.sampled_from(VALUES)),
                  st.tuples(st.just("PRIORITY"), st.sampled_from(PRIORITIES)))
entry = st.tuples(st.sampled_from(SEQNUM_IDS), st.lists(field, max_size=5))


def export(entries: list[tuple[str, list[tuple[str, str | bytes]]]], not_entry: bool) -> bytes:
    out = [export_entry(seqnum_id, seqnum, fields) for seqnum, (seqnum_id, fields) in enumerate(entries, 1)]
    if not_entry:  # something journalctl would never write: no usable cursor
        out.insert(len(out) // 2, b"__CURSOR=s=zz;i=1\nMESSAGE=not an entry\n\n")
    return b"".join(out)


def blocks(log: str, data: bytes, size: int, cap: int) -> list[JournalBlock]:
    """The blocks of `data` read `size` bytes at a time."""
    reader = ExportReader(log, 1 << 20)
    made = [JournalBlock.of_batch(log, reader.read(data[i:i + size]), cap) for i in range(0, len(data), size)]
    return [block for block in made if block.count]


def described(line: Line) -> tuple[object, ...]:
    assert isinstance(line, JournalLine)
    return (line.log, line.text, line.text.fields, line.fid, line.end, line.seqnum_id, line.realtime,  # type: ignore[attr-defined]
            line.truncated, line.level, line.cursor)


@settings(max_examples=150, deadline=None)
@given(entries=st.lists(entry, min_size=1, max_size=8), not_entry=st.booleans(),
       size=st.sampled_from([37, 200, 1 << 20]), cap=st.sampled_from([16, 1 << 16]),
       log=st.sampled_from(["journal", "we%ird{0}", 'q"uote']))
def test_a_block_gives_the_lines_and_bytes_of_each_entry(entries: list[tuple[str, list[tuple[str, str | bytes]]]],
                                                         not_entry: bool, size: int, cap: int, log: str) -> None:
    data = export(entries, not_entry)
    made = [JournalBlock.of_batch(log, ExportReader(log, 1 << 20).read(data), cap)]  # one read
    made += blocks(log, data, size, cap)  # and in reads of `size`
    expected = parse_entries(log, ExportReader(log, 1 << 20).feed(data), cap)
    one, chunked = made[0], made[1:]
    for got in ([one], chunked):
        for fmt in (*FORMATS, "raw"):
            assert b"".join(b.frames(fmt) for b in got) == b"".join(line.frame(fmt) for line in expected), fmt
        assert [described(line) for b in got for line in b.lines] == [described(line) for line in expected]
        assert [end for b in got for end in b.ends()] == [(line.fid, line.end) for line in expected]
        assert [t for b in got for t in b.texts()[0]] == [line.text for line in expected]
    assert one.last == Cursor(log, expected[-1].fid, expected[-1].end)
    assert one.last_realtime == expected[-1].realtime


PLAIN = [("MESSAGE", "GET /api 200"), ("PRIORITY", "6"), ("_PID", "7")]


@pytest.mark.parametrize(("special", "cap", "columns"), [
    ([("MESSAGE", "x" * 40)], 16, True),  # over the cap: cut and flagged
    ([("MESSAGE", "x" * 40)], 1024, True),  # every entry within a quarter of the cap
    ([("MESSAGE", "é" * 40)], 1024, True),
    ([("MESSAGE", "é" * 40)], 16, True),  # cut on a character boundary
    ([("MESSAGE", "y" * (MAX_FIELD_CHARS + 1))], 1 << 16, True),  # a value over MAX_FIELD_CHARS
    ([("MESSAGE", "m"), ("TAG", "z" * (MAX_FIELD_CHARS + 1))], 1 << 16, True),
    ([("MESSAGE", "m"), ("TAG", "z" * (MAX_FIELD_CHARS - 200))], 1 << 16, True),  # a long entry, no value cut
    ([("MESSAGE", "two\nlines")], 1 << 16, False),  # binary
    ([("MESSAGE", "a"), ("TAG", "1"), ("TAG", "2")], 1 << 16, False),  # a field twice
    ([("MESSAGE", 'say "hi"'), ("TAG", 'a "b"')], 1 << 16, True),  # JSON-escaped
    ([("MESSAGE", "m"), ("TAG", "back\\slash")], 1 << 16, True),
    ([("MESSAGE", "m"), ("TAG", "tab\there")], 1 << 16, True),
    ([("MESSAGE", "ERROR: no priority")], 1 << 16, True),  # no fields at all, level from the text
    ([("MESSAGE", "WARNING"), ("PRIORITY", "x")], 1 << 16, True),
    ([("TAG", "no message")], 1 << 16, True),
])
def test_each_kind_of_entry_among_plain_ones(special: list[tuple[str, str]], cap: int, columns: bool) -> None:
    data = b"".join(export_entry(SEQNUM_IDS[n % 2], n, special if n == 3 else PLAIN) for n in range(1, 6))
    block = JournalBlock.of_batch("j", ExportReader("j", 1 << 20).read(data), cap)
    expected = parse_entries("j", ExportReader("j", 1 << 20).feed(data), cap)
    assert bool(block.texts_) is columns
    for fmt in (*FORMATS, "raw"):
        assert block.frames(fmt) == b"".join(line.frame(fmt) for line in expected), fmt
    assert [described(line) for line in block.lines] == [described(line) for line in expected]


def test_a_plain_batch_is_made_in_columns_and_lines_only_when_asked() -> None:
    data = b"".join(export_entry(SEQNUM_IDS[0], n, [("MESSAGE", f"GET /{n}"), ("PRIORITY", "4"), ("_PID", "7")])
                    for n in range(1, 4))
    block = JournalBlock.of_batch("j", ExportReader("j", 1 << 20).read(data), 1 << 16)
    assert block.texts_ == ["GET /1", "GET /2", "GET /3"] and block._lines is None
    frames = block.frames("ndjson")
    assert block._lines is None  # the frames needed no line
    assert json.loads(frames.splitlines()[0]) == {
        "log": "j", "text": "GET /1", "id": f"j={SEQNUM_IDS[0][:12]}:1", "level": "warn",
        "fields": {"PRIORITY": "4", "_PID": "7"}}
    assert str(block.last) == f"j={SEQNUM_IDS[0][:12]}:3" and block.last_realtime == 1_700_000_000_000_003
    assert block.index_of(SEQNUM_IDS[0][:12], 2) == 1 and block.journal_lines()[1].text == "GET /2"


def test_a_block_in_the_hub_is_found_by_position_and_filtered_by_its_fields() -> None:
    """The window finds a position in a block of columns, and a field filter sees each entry's own fields
    (the same MESSAGE in every entry)."""
    fid = SEQNUM_IDS[0][:12]
    data = b"".join(export_entry(SEQNUM_IDS[0], n, [("MESSAGE", "same"), ("_PID", str(n))]) for n in range(1, 5))
    block = JournalBlock.of_batch("j", ExportReader("j", 1 << 20).read(data), 1 << 16)
    hub = Hub(100, 1 << 20)
    sub = Subscription(["j"], LineFilter(fields=parse_field_filters(["_PID:3"])), "ndjson", 1 << 20, False)
    hub.subscribe(["j"], sub)
    hub.publish("j", block, block.last)
    queued = b"".join(chunk for chunk in sub.chunks if isinstance(chunk, bytes))
    assert [json.loads(x)["id"] for x in queued.splitlines()] == [f"j={fid}:3"]
    assert [line.end for line in hub.channel("j").lines_after(Cursor("j", fid, 2)) or []] == [3, 4]
