"""A journal entry (read from journalctl's export format, export.py) as one line of a log.

`MESSAGE` is the line's text: a binary message is decoded as UTF-8 with replacement, and one over
`--max-line-bytes` is cut on a character boundary and flagged `truncated`, like a long file line. The level
comes from `PRIORITY` (syslog's 0-7), not from the text. The entry's other fields (`_SYSTEMD_UNIT`,
`SYSLOG_IDENTIFIER`, `_PID`, `PRIORITY`, ...; not journalctl's own `__CURSOR` and timestamps) are the line's
fields: field filters see them as they see a JSON line's keys (match/fields.py `FieldedText`), and the
line's JSON carries them as `fields`.
"""

from __future__ import annotations

import re
from typing import Literal, cast

from logtail.core.frames import CarriedLine
from logtail.core.lines import decode_capped
from logtail.match.fields import FieldedText, Fields
from logtail.match.levels import Level
from logtail.sources.journal.export import Entry, Value
from logtail.sources.journal.ids import fid_of

# syslog priorities: 0 emerg, 1 alert, 2 crit, 3 err -> error; 4 warning; 5 notice, 6 info; 7 debug.
PRIORITY_LEVELS: dict[str, Level] = {"0": "error", "1": "error", "2": "error", "3": "error", "4": "warn",
                                     "5": "info", "6": "info", "7": "debug"}
MAX_FIELD_CHARS = 4096  # a field's value kept for filters and the page (a core dump's is megabytes)
# journalctl's own fields (address and timestamps), not the entry's. `__SEQNUM*` are newer systemd's.
NOT_FIELDS = ("__MONOTONIC_TIMESTAMP", "__SEQNUM", "__SEQNUM_ID")
CURSOR = re.compile(r"s=([0-9a-f]{32});i=([0-9a-f]{1,16})(?:;|$)")


class JournalLine(CarriedLine):
    """A line made from a journal entry: its level was given (PRIORITY) and its JSON carries its fields."""

    __slots__ = ("realtime", "seqnum_id")

    def __init__(self, log: str, text: FieldedText, seqnum_id: str, seqnum: int,
                 level: Level | Literal[""] | None, truncated: bool, realtime: int) -> None:
        super().__init__(log, text, fid_of(seqnum_id), seqnum, truncated, level)
        self.seqnum_id = seqnum_id
        self.realtime = realtime  # microseconds since the epoch (__REALTIME_TIMESTAMP)


def value_text(value: Value | None) -> str | None:
    """A field's value as text: a string; a binary value decoded; a field given several times: its values
    joined by newlines; none: None."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return "\n".join(t for t in map(value_text, value) if t is not None)
    return None


def message_of(value: Value | None, cap: int) -> tuple[str, bool]:
    """The MESSAGE's text, cut at `cap` bytes, and whether it was cut."""
    if isinstance(value, str):
        if len(value) * 4 <= cap:  # cannot be over the cap in UTF-8: no need to encode
            return value, False
        return decode_capped(value.encode(), cap)
    if isinstance(value, bytes):
        return decode_capped(value, cap)
    text = value_text(value)
    return decode_capped(text.encode(), cap) if text is not None else ("", False)


def entry_line(log: str, entry: Entry, cap: int) -> JournalLine | None:
    """The line of one entry, or None for an object that is not an entry (no usable `__CURSOR`). The entry
    becomes the line's fields (its cursor, timestamps and message are taken out of it)."""
    cursor = entry.pop("__CURSOR", None)
    where = CURSOR.match(cursor) if type(cursor) is str else None
    if where is None:
        return None
    text, truncated = message_of(entry.pop("MESSAGE", None), cap)
    realtime = entry.pop("__REALTIME_TIMESTAMP", "0")
    for key in NOT_FIELDS:
        entry.pop(key, None)
    values = entry.values()
    # Usually every value is a short string, and the entry is its fields as it is (checked in C).
    if all(map(str.__instancecheck__, values)) and (not values or max(map(len, values)) <= MAX_FIELD_CHARS):
        fields = cast(Fields, entry)
    else:
        fields = capped_fields(entry)
    level: Level | Literal[""] = PRIORITY_LEVELS.get(fields.get("PRIORITY", ""), "")
    return JournalLine(log, FieldedText(text, fields), where.group(1), int(where.group(2), 16), level,
                       truncated, int(realtime) if type(realtime) is str and realtime.isdigit() else 0)


def capped_fields(entry: Entry) -> Fields:
    """An entry's values as text, each cut at MAX_FIELD_CHARS."""
    fields: Fields = {}
    for key, value in entry.items():
        shown = value_text(value)
        if shown is not None:
            fields[key] = shown if len(shown) <= MAX_FIELD_CHARS else shown[:MAX_FIELD_CHARS]
    return fields


def parse_entries(log: str, entries: list[Entry], cap: int) -> list[JournalLine]:
    """The lines of a batch of entries; anything that is not an entry (no usable cursor) is left out."""
    lines: list[JournalLine] = []
    for entry in entries:
        line = entry_line(log, entry, cap)
        if line is not None:
            lines.append(line)
    return lines
