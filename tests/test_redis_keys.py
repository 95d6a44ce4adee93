"""The key layout and entry encoding (logtail/sources/redis/keys.py): pure, table-tested."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logtail.config import ConfigError
from logtail.core.cursor import parse_cursors
from logtail.core.frames import Line
from logtail.sources.redis import keys


@pytest.mark.parametrize("host", ["web1", "web-1.example.com", "a_b", "x" * 64])
def test_url_safe_host_names_are_accepted(host: str) -> None:
    assert keys.check_host(host) == host


@pytest.mark.parametrize("host", ["", ".", "..", "web 1", "a/b", "a:b", "<b>", "é", "x" * 65, "a@b"])
def test_host_names_that_are_not_url_safe_are_refused(host: str) -> None:
    with pytest.raises(ConfigError, match="not URL-safe"):
        keys.check_host(host)


def test_stream_key_and_shipped_name() -> None:
    assert keys.stream_key("web1", "app.log") == "logtail:stream:web1:app.log"
    assert keys.shipped_name("web1", "app.log") == "app.log@web1"


def test_an_entry_of_lines_round_trips_with_ids_from_the_entry_id() -> None:
    fields = keys.line_fields(["one", "two", "three"], [1], "abcdef012345", 42)
    assert fields == {"fid": "abcdef012345", "end": "42", "lines": "one\ntwo\nthree", "cut": "1"}
    entry = keys.decode_entry(b"1700000000123-5", {k.encode(): v.encode() for k, v in fields.items()})
    assert entry.id == "1700000000123-5" and entry.position == ("abcdef012345", 42) and entry.notice is None
    lines = entry.lines("app.log@web1")
    assert [(x.text, x.truncated) for x in lines] == [("one", False), ("two", True), ("three", False)]
    assert [x.cursor for x in lines] == [f"app.log@web1=018bcfe5687b:{(5 << 20) + k}" for k in (1, 2, 3)]
    assert [x.text for x in entry.lines("app.log@web1", after=2)] == ["three"]
    # The id parses as a cursor, and leads back to the entry and the line.
    cursor = parse_cursors(lines[1].cursor)["app.log@web1"]
    assert keys.entry_of_cursor(cursor.fid, cursor.offset) == ("1700000000123-5", 2)
    assert keys.entry_of_cursor(cursor.fid, 0) is None


def test_a_notice_entry_has_no_lines() -> None:
    entry = keys.decode_entry("1-0", keys.notice_fields("rotated", "x was rotated", "abcdef012345", 7))
    assert entry.notice == ("rotated", "x was rotated") and entry.lines("a@b") == []


def test_registry_records_that_are_not_url_safe_or_malformed_are_ignored() -> None:
    good = keys.registry_value("web1", "app.log", "/var/log/app.log", 12.5)
    raw = {
        b"app.log@web1": good.encode(),
        b"x": b'{"host": "../../etc", "name": "passwd"}',
        b"y": b'{"host": "web1", "name": "<script>"}',
        b"z": b"not json",
        b"w": b'{"host": 1}',
    }
    assert keys.parse_registry(raw) == [keys.KnownLog("web1", "app.log", "/var/log/app.log", 12.5)]


def test_carried_levels_and_fields_round_trip() -> None:
    carried: keys.Carried = [("error", {"_PID": "7", "PRIORITY": "3"}), (None, {})]
    fields = keys.line_fields(["crash", "user=bob"], [], "abcdef012345", 2, carried)
    entry = keys.decode_entry(b"1700000000123-5", fields)
    assert entry.problem is None
    one, two = entry.lines("u@web1")
    assert (one.level, one.fields, json.loads(one.json)["fields"]) == ("error", carried[0][1], carried[0][1])
    assert (two.level, two.fields, json.loads(two.json)["fields"]) == (None, {"user": "bob"}, {})


def test_a_carried_line_with_newlines_is_one_line() -> None:
    carried: keys.Carried = [("info", {}), ("warn", {"a": "b"}, "two\nlines"), (None, {})]
    fields = keys.line_fields(["one", "two\nlines", "three"], [], "abcdef012345", 3, carried)
    assert fields["lines"] == "one\ntwo lines\nthree"  # every reader counts lines by newlines
    entry = keys.decode_entry(b"1700000000123-5", fields)
    assert [(x.text, x.level) for x in entry.lines("u@web1")] == [("one", "info"), ("two\nlines", "warn"),
                                                                  ("three", None)]
    assert [x.text for x in entry.lines("u@web1", max_line_bytes=4)] == ["one", "two\n", "thre"]


@pytest.mark.parametrize("carried", ["nope", "[]", '[["error", {}]]', '[["fatal", {}], [null, {}]]',
                                     '[[null, {"a": 1}], [null, {}]]', '[[null, []], [null, {}]]',
                                     '[[null, {"a": "' + "x" * 5000 + '"}], [null, {}]]', '[[null], [null, {}]]',
                                     '[[null, {}, 1], [null, {}]]', '[[null, {}, "a", "b"], [null, {}]]'])
def test_malformed_carried_is_a_problem_not_a_crash(carried: str) -> None:
    entry = keys.decode_entry(b"1-1", {"fid": "ab", "end": "2", "lines": "a\nb", "carried": carried})
    assert entry.problem == "carried is not a level and fields per line" and entry.lines("x") == []


# --- the raw XREAD reply (keys.decode_raw): the same lines as decode_entry, without a field map -------------

def _decoded(item: list[Line] | keys.Entry, cap: int) -> tuple[str | None, list[tuple[str, str, int, bool]]]:
    """What a reader publishes of an entry: its problem, and its lines as (text, fid, end, truncated)."""
    lines = item if isinstance(item, list) else item.lines("a@h", 0, cap)
    problem = None if isinstance(item, list) else item.problem
    return problem, [(x.text, x.fid, x.end, x.truncated) for x in lines]


def _check_raw(entry_id: bytes, flat: list[bytes], cap: int = keys.MAX_LINE_BYTES) -> list[Line] | keys.Entry:
    raw = keys.decode_raw(entry_id, flat, "a@h", cap)
    fields = dict(zip(flat[::2], flat[1::2], strict=True))  # what redis-py's callback makes of the entry
    assert _decoded(raw, cap) == _decoded(keys.decode_entry(entry_id, fields), cap)
    return raw


PLAIN = [b"fid", b"abcdef012345", b"end", b"42", b"lines"]


@pytest.mark.parametrize("flat", [
    [*PLAIN, b"one", b"n", b"7"],  # a quiet log's entry as a shipper writes it
    [*PLAIN, b"one"],  # an entry of a shipper older than `n`
    [*PLAIN, b"one\ntwo\n\nthree", b"n", b"9"],  # a busy log's entry
    [*PLAIN, "é".encode() * 40 + b"\nok", b"n", b"2"],  # cut at the cap, on a character boundary
    [*PLAIN, b"\xff\xfe bad utf-8\r", b"n", b"1"],
])
def test_a_plain_entry_is_its_lines_straight_from_the_reply(flat: list[bytes]) -> None:
    assert isinstance(_check_raw(b"1700000000123-5", flat, cap=50), list)


@pytest.mark.parametrize(("entry_id", "flat"), [
    (b"1-0", [*PLAIN, b"a\nb", b"cut", b"1", b"n", b"2"]),  # cut lines
    (b"1-0", [*PLAIN, b"a\nb", b"sizes", b"2", b"n", b"2"]),  # one event of two lines
    (b"1-0", [*PLAIN, b"a", b"carried", b'[["error", {"k": "v"}]]']),
    (b"1-0", [b"fid", b"ab", b"end", b"3", b"kind", b"rotated", b"message", b"x"]),  # a notice
    (b"1-0", [b"end", b"42", b"fid", b"abcdef012345", b"lines", b"x"]),  # another order: still read
    (b"1-0", [*PLAIN, b"x", b"lines", b"y"]),  # a field twice: the last one, as redis-py's map has it
    (b"1-0", [*PLAIN, b"x", b"other", b"y"]),
    (b"1-0", [b"fid", b"not hex", b"end", b"1", b"lines", b"x"]),  # malformed: decode_entry names why
    (b"1-0", [b"fid", b"ab", b"end", "²".encode(), b"lines", b"x", b"n", b"1"]),
    (b"1-0", [b"fid", b"ab", b"end", b"1" * 20, b"lines", b"x"]),
    (str(1 << 48).encode() + b"-0", [*PLAIN, b"x", b"n", b"1"]),  # an id out of range
    (b"1-" + str(1 << 43).encode(), [*PLAIN, b"x"]),
    ("²".encode() + b"-0", [*PLAIN, b"x"]),
    (b"1-0", [*PLAIN, b"\n" * keys.LAST_INDEX]),  # more lines than an id can number
    (b"1-0", []),
])
def test_any_other_entry_is_decoded_in_full(entry_id: bytes, flat: list[bytes]) -> None:
    assert isinstance(_check_raw(entry_id, flat), keys.Entry)


_PART = st.sampled_from([b"fid", b"end", b"lines", b"n", b"cut", b"kind", b"ab", b"0", b"12", "²".encode(),
                         b"a\nb", b"", b"x" * 30, b"\xff", b"rotated", b"message"])


@given(st.lists(_PART, min_size=1, max_size=10),
       st.sampled_from([b"1-0", b"1700000000123-5", b"1-x", str(1 << 48).encode() + b"-1"]))
def test_decode_raw_publishes_what_decode_entry_does(parts: list[bytes], entry_id: bytes) -> None:
    _check_raw(entry_id, [b"fid", b"ab", b"end", b"1", b"lines", *parts[: (len(parts) - 1) // 2 * 2 + 1]], cap=20)
    _check_raw(entry_id, parts[: len(parts) // 2 * 2], cap=20)
