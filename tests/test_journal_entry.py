"""A journal entry as a line (sources/journal/entry.py), its id (ids.py), and the journal source forms in the
configuration (config/sources.py): pure functions, tested from tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from logtail.config import ConfigError, parse_source, resolve
from logtail.core.cursor import Cursor
from logtail.core.hub import Hub
from logtail.core.subscription import Subscription
from logtail.match.fields import FieldedText, parse_field_filters
from logtail.match.filters import LineFilter
from logtail.sources.journal.entry import entry_line, parse_entries
from logtail.sources.journal.export import ExportReader
from logtail.sources.journal.ids import parse_journal_cursor, partial_cursor

SEQNUM_ID = "d44c71bafec04e33aca0883dd671372d"


def entry(message: Any = "hello", seqnum: int = 1, **fields: Any) -> dict[str, Any]:
    return {"__CURSOR": f"s={SEQNUM_ID};i={seqnum:x};b=0123;m=5;t=60a;x=5d", "__REALTIME_TIMESTAMP": "1700000000000000",
            "__MONOTONIC_TIMESTAMP": "5", "MESSAGE": message, **fields}


@pytest.mark.parametrize(("priority", "level"), [
    ("0", "error"), ("1", "error"), ("2", "error"), ("3", "error"), ("4", "warn"), ("5", "info"), ("6", "info"),
    ("7", "debug"),
])
def test_level_comes_from_priority_not_text(priority: str, level: str) -> None:
    line = entry_line("j", entry("ERROR in the text", PRIORITY=priority), 1000)
    assert line is not None and line.level == level


def test_without_priority_the_level_is_read_off_the_text() -> None:
    line = entry_line("j", entry("WARNING: disk"), 1000)
    assert line is not None and line.level == "warn"


def test_id_is_seqnum_id_prefix_and_seqnum() -> None:
    line = entry_line("app.service", entry(seqnum=0x1F), 1000)
    assert line is not None
    assert line.cursor == f"app.service={SEQNUM_ID[:12]}:31"
    assert line.seqnum_id == SEQNUM_ID


def test_partial_cursor_round_trip() -> None:
    assert parse_journal_cursor(partial_cursor(SEQNUM_ID, 31)) == (SEQNUM_ID, 31)
    assert parse_journal_cursor("s=xyz;i=1") is None
    assert parse_journal_cursor(f"s={SEQNUM_ID};i=zz") is None


def test_binary_message_decoded_with_replacement() -> None:
    raw = b"bin\xff\nary"
    line = entry_line("j", entry(raw), 1000)
    assert line is not None and line.text == "bin\ufffd\nary" and not line.truncated


@pytest.mark.parametrize(("message", "text"), [
    ("a" * 20, "a" * 10),
    ("é" * 10, "é" * 5),  # 2 bytes each: cut on a character boundary
    (("é" * 10).encode(), "é" * 5),
])
def test_long_message_cut_and_flagged(message: Any, text: str) -> None:
    line = entry_line("j", entry(message), 10)
    assert line is not None and line.text == text and line.truncated
    assert json.loads(line.json)["truncated"] is True


def test_fields_are_the_entrys_own_without_cursor_timestamps_or_message() -> None:
    line = entry_line("j", entry("x", _SYSTEMD_UNIT="a.service", _PID="12", PRIORITY="6",
                                 TAGS=["one", "two"], BIN=b"\x00z"), 1000)
    assert line is not None
    assert isinstance(line.text, FieldedText)
    assert line.text.fields == {"_SYSTEMD_UNIT": "a.service", "_PID": "12", "PRIORITY": "6", "TAGS": "one\ntwo",
                                "BIN": "\x00z"}
    record = json.loads(line.json)
    assert record == {"log": "j", "text": "x", "id": f"j={SEQNUM_ID[:12]}:1", "level": "info",
                      "fields": line.text.fields}


def test_a_json_message_keeps_its_own_fields_and_the_entrys_win() -> None:
    line = entry_line("j", entry('{"user": "alice", "PRIORITY": "9"}', PRIORITY="3"), 1000)
    assert line is not None and isinstance(line.text, FieldedText)
    assert line.text.fields == {"user": "alice", "PRIORITY": "3"}


def test_not_entries_are_left_out() -> None:
    lines = parse_entries("j", [{"MESSAGE": "no cursor"}, {"__CURSOR": "s=zz;i=1"}, entry()], 100)
    assert [line.text for line in lines] == ["hello"]


def export_entry(seqnum: int, *fields: bytes) -> bytes:
    return b"".join([f"__CURSOR=s={SEQNUM_ID};i={seqnum:x};b=1\n".encode(), *fields, b"\n"])


def binary(name: bytes, value: bytes) -> bytes:
    return name + b"\n" + len(value).to_bytes(8, "little") + value + b"\n"


EXPORT = (export_entry(1, b"MESSAGE=plain one\n", b"PRIORITY=3\n")
          + export_entry(2, binary(b"MESSAGE", b"two\n\nlines \xff"), b"_PID=7\n")
          + export_entry(3, b"MESSAGE=three\n", b"TAG=a\n", b"TAG=b\n", binary(b"TAG", b"c\n"))
          + export_entry(4, b"MESSAGE=four=4\n"))
PARSED = [("plain one", {"PRIORITY": "3"}), ("two\n\nlines \ufffd", {"_PID": "7"}),
          ("three", {"TAG": "a\nb\nc\n"}), ("four=4", {"four": "4"})]  # logfmt: its own


@pytest.mark.parametrize("size", [1, 2, 7, 10, 64, len(EXPORT)])
def test_export_format_read_in_chunks_of_any_size(size: int) -> None:
    """Binary values (a length, then bytes that may hold empty lines), repeated fields and `=` in values,
    whatever the reads' boundaries."""
    reader = ExportReader("j", 1 << 20)
    entries = [e for i in range(0, len(EXPORT), size) for e in reader.feed(EXPORT[i:i + size])]
    lines = parse_entries("j", entries, 1000)
    assert [(line.text, line.text.fields) for line in lines] == PARSED  # type: ignore[attr-defined]
    assert [line.end for line in lines] == [1, 2, 3, 4] and reader.pending == b""


def test_an_export_entry_over_the_limit_is_skipped_whole() -> None:
    reader = ExportReader("j", 100)
    big = export_entry(5, b"MESSAGE=" + b"x" * 300 + b"\n")
    got = [e for i in range(0, len(EXPORT + big + EXPORT), 64) for e in reader.feed((EXPORT + big + EXPORT)[i:i + 64])]
    assert [line.text for line in parse_entries("j", got, 1000)] == [t for t, _ in PARSED] * 2
    assert reader.skipped == 1


def test_field_filters_see_journal_fields_not_a_cache_by_text() -> None:
    """Two entries with the same MESSAGE and different units: a per-batch cache keyed by text would give the
    second the first's fields (FieldedText is never looked up by text)."""
    a = entry_line("j", entry("Started session", 1, _SYSTEMD_UNIT="a.service"), 1000)
    b = entry_line("j", entry("Started session", 2, _SYSTEMD_UNIT="b.service"), 1000)
    assert a is not None and b is not None
    hub = Hub(100, 1 << 20)
    only_b = Subscription(["j"], LineFilter(fields=parse_field_filters(["_SYSTEMD_UNIT:b.service"])), "ndjson",
                          1 << 20, False)
    hub.subscribe(["j"], only_b)
    hub.publish("j", [a, b], Cursor("j", b.fid, b.end))
    queued = b"".join(chunk for chunk in only_b.chunks if isinstance(chunk, bytes))
    assert [json.loads(x)["id"] for x in queued.splitlines()] == [b.cursor]


@pytest.mark.parametrize(("spec", "name", "matches"), [
    ("journal", "journal", ()),
    ("journal:nginx.service", "nginx.service", ("--unit=nginx.service",)),
    ("web=journal:nginx.service", "web", ("--unit=nginx.service",)),
    ("all=journal", "all", ()),
    ("errs=journal:PRIORITY=3,PRIORITY=4,_SYSTEMD_UNIT=a.service", "errs",
     ("PRIORITY=3", "PRIORITY=4", "_SYSTEMD_UNIT=a.service")),
    ("kernel=journal:_TRANSPORT=kernel", "kernel", ("_TRANSPORT=kernel",)),
])
def test_journal_source_forms(spec: str, name: str, matches: tuple[str, ...]) -> None:
    src = parse_source(spec, Path("/base"))
    assert (src.name, src.journal) == (name, matches)


@pytest.mark.parametrize(("spec", "words"), [
    ("journal:", "name a unit"),
    ("journal:_SYSTEMD_UNIT=a.service", "name a journal match"),
    ("x=journal:lower=1", "not a journal match"),
    ("journal:getty@tty1.service", "not URL-safe"),
])
def test_journal_source_errors_name_the_source(spec: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as info:
        parse_source(spec, Path("/"))
    assert repr(spec) in str(info.value)


@pytest.mark.parametrize("spec", ["journal=/var/log/app.log", "./journal", "/tmp/journal"])
def test_files_named_journal_are_still_files(spec: str) -> None:
    assert parse_source(spec, Path("/base")).journal is None


def test_journal_forms_from_environment_and_toml(tmp_path: Path) -> None:
    env = {"LOGTAIL_SOURCES": "journal journal:a.service", "LOGTAIL_JOURNAL_DIRECTORY": str(tmp_path)}
    s = resolve({}, None, None, env)
    assert [(src.name, src.journal) for src in s.sources] == [("journal", ()), ("a.service", ("--unit=a.service",))]
    assert s.journal_directory == str(tmp_path)
    toml = tmp_path / "logtail.toml"
    toml.write_text('journal_directory = "/j"\nsources = ["journal:b.service"]\n'
                    '[logs]\nk = "journal:_TRANSPORT=kernel"\n')
    s = resolve({}, None, toml, {})
    assert [(src.name, src.journal) for src in s.sources] == [("b.service", ("--unit=b.service",)),
                                                               ("k", ("_TRANSPORT=kernel",))]
    assert s.journal_directory == "/j"
    assert resolve({"journal_directory": "/flag"}, ["journal"], toml, {}).journal_directory == "/flag"


def test_duplicate_journal_names_refused() -> None:
    with pytest.raises(ConfigError, match="duplicate log name 'journal'"):
        resolve({}, ["journal", "journal=journal:a.service"], None, {})
