"""The key layout and entry encoding (logtail/sources/redis/keys.py): pure, table-tested."""

from __future__ import annotations

import json

import pytest

from logtail.config import ConfigError
from logtail.core.cursor import parse_cursors
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
