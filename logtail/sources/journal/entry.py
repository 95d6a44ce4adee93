"""A journal entry (one JSON object of `journalctl --output=json`) as one line of a log.

`MESSAGE` is the line's text: a binary message (an array of byte values in journalctl's JSON) is decoded as
UTF-8 with replacement, and one over `--max-line-bytes` is cut on a character boundary and flagged
`truncated`, like a long file line. The level comes from `PRIORITY` (syslog's 0-7), not from the text. The
entry's other fields (`_SYSTEMD_UNIT`, `SYSLOG_IDENTIFIER`, `_PID`, `PRIORITY`, ...; not journalctl's own
`__CURSOR` and timestamps) are the line's fields: field filters see them as they see a JSON line's keys
(match/fields.py `FieldedText`), and the line's JSON carries them as `fields`.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from logtail.core.frames import Line, LineRecord, dump_json
from logtail.core.lines import decode_capped
from logtail.match.fields import FieldedText, Fields
from logtail.match.levels import Level
from logtail.sources.journal.ids import fid_of

# syslog priorities: 0 emerg, 1 alert, 2 crit, 3 err -> error; 4 warning; 5 notice, 6 info; 7 debug.
PRIORITY_LEVELS: dict[str, Level] = {"0": "error", "1": "error", "2": "error", "3": "error", "4": "warn",
                                     "5": "info", "6": "info", "7": "debug"}
MAX_FIELD_CHARS = 4096  # a field's value kept for filters and the page (a core dump's is megabytes)
# journalctl's own fields (address and timestamps), not the entry's. `__SEQNUM*` are newer systemd's.
_NOT_FIELDS = ("__MONOTONIC_TIMESTAMP", "__SEQNUM", "__SEQNUM_ID")
_CURSOR = re.compile(r"s=([0-9a-f]{32});i=([0-9a-f]{1,16})(?:;|$)")


class JournalLine(Line):
    """A line made from a journal entry: its level was given (PRIORITY) and its JSON carries its fields."""

    __slots__ = ("realtime", "seqnum_id")

    def __init__(self, log: str, text: FieldedText, seqnum_id: str, seqnum: int,
                 level: Level | Literal[""] | None, truncated: bool, realtime: int) -> None:
        super().__init__(log, text, fid_of(seqnum_id), seqnum, truncated)
        self._level = level  # "": no PRIORITY, detected from the text when asked
        self.seqnum_id = seqnum_id
        self.realtime = realtime  # microseconds since the epoch (__REALTIME_TIMESTAMP)

    def record(self) -> LineRecord:
        record = super().record()
        if isinstance(self.text, FieldedText):
            record["fields"] = self.text.carried
        return record

    @property
    def json(self) -> bytes:
        if self._json is None:
            # The entry's own fields only: the page parses a JSON or logfmt message's fields itself.
            carried = self.text.carried if isinstance(self.text, FieldedText) else {}
            self._json = super().json[:-1] + b',"fields":' + dump_json(carried) + b"}"
        return self._json


def value_text(value: Any) -> str | None:
    """A field's value as text: a string; a binary value (array of byte values) decoded; a field given
    several times (array of values): its values joined by newlines; null (journalctl left it out): None."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        if all(isinstance(v, int) for v in value):
            return _bytes_of(value).decode("utf-8", "replace")
        texts = [t for t in map(value_text, value) if t is not None]
        return "\n".join(texts)
    return None


def _bytes_of(values: list[int]) -> bytes:
    try:
        return bytes(values)
    except ValueError:  # not byte values after all
        return bytes(v & 0xFF for v in values)


def message_of(value: Any, cap: int) -> tuple[str, bool]:
    """The MESSAGE's text, cut at `cap` bytes, and whether it was cut."""
    if isinstance(value, str):
        if len(value) * 4 <= cap:  # cannot be over the cap in UTF-8: no need to encode
            return value, False
        return decode_capped(value.encode(), cap)
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return decode_capped(_bytes_of(value), cap)
    text = value_text(value)
    return decode_capped(text.encode(), cap) if text is not None else ("", False)


def entry_line(log: str, entry: dict[str, Any], cap: int) -> JournalLine | None:
    """The line of one entry, or None for an object that is not an entry (no usable `__CURSOR`). The entry
    becomes the line's fields (its cursor, timestamps and message are taken out of it)."""
    cursor = entry.pop("__CURSOR", None)
    where = _CURSOR.match(cursor) if type(cursor) is str else None
    if where is None:
        return None
    text, truncated = message_of(entry.pop("MESSAGE", None), cap)
    realtime = entry.pop("__REALTIME_TIMESTAMP", "0")
    for key in _NOT_FIELDS:
        entry.pop(key, None)
    values = entry.values()
    # Usually every value is a short string, and the entry is its fields as it is (checked in C).
    if not all(map(str.__instancecheck__, values)) or (values and max(map(len, values)) > MAX_FIELD_CHARS):
        entry = _fields_of(entry)
    level: Level | Literal[""] = PRIORITY_LEVELS.get(entry.get("PRIORITY", ""), "")
    return JournalLine(log, FieldedText(text, entry), where.group(1), int(where.group(2), 16), level, truncated,
                       int(realtime) if type(realtime) is str and realtime.isdigit() else 0)


def _fields_of(entry: dict[str, Any]) -> Fields:
    fields: Fields = {}
    for key, value in entry.items():
        shown = value_text(value)
        if shown is not None:
            fields[key] = shown if len(shown) <= MAX_FIELD_CHARS else shown[:MAX_FIELD_CHARS]
    return fields


def parse_lines(log: str, raw: list[bytes], cap: int) -> list[JournalLine]:
    """The lines of a batch of journalctl's JSON output; anything that is not an entry is left out."""
    try:
        # The whole batch as one JSON array: one call into the C parser instead of one per entry.
        entries = json.loads(b"[" + b",".join(raw) + b"]")
    except (ValueError, RecursionError):
        entries = list(map(_entry_or_none, raw))
    lines: list[JournalLine] = []
    for entry in entries:
        if type(entry) is dict:
            line = entry_line(log, entry, cap)
            if line is not None:
                lines.append(line)
    return lines


def _entry_or_none(piece: bytes) -> Any:
    try:
        return json.loads(piece)
    except (ValueError, RecursionError):
        return None
