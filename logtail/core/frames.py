"""Server-Sent Events framing, and the records the hub fans out (lines and notices) with their wire bytes.

Everything a client receives is built here. Payloads are JSON, so a `\\r`, `\\n` or NUL inside a log line is
escaped and can never end a field or forge an `id:`; the bytes of a line are encoded once per format and
shared by every client that receives it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import encode_basestring
from typing import Any, Literal, NotRequired, TypedDict, Unpack

from logtail.core.cursor import cursor_text
from logtail.core.terminal import terminal_safe
from logtail.match.fields import FieldedText, Fields, parse_fields
from logtail.match.levels import LEVELS, Level, detect_level
from logtail.match.parsers import Parser

Format = Literal["sse", "text", "ndjson", "raw"]  # raw: text as written (terminal.py)
# Why a notice was sent: a change in a file (rotated, truncated, missing, appeared, unreadable), lines a
# client did not get (gap), the end of the stream (shutdown), or Redis going away and back for the logs of
# other hosts (unreachable, reconnected), the end of a stream its user may no longer read (revoked). The page
# styles each kind.
NoticeKind = Literal["rotated", "truncated", "missing", "appeared", "unreadable", "gap", "shutdown",
                     "unreachable", "reconnected", "revoked", "host_down", "host_up"]


class LineRecord(TypedDict):
    """The JSON of one line (SSE `line` event data, an NDJSON line): `Line.json` builds these bytes."""

    log: str
    text: str
    id: str  # the line's cursor: resume after it with Last-Event-ID, page a search with before/after
    level: Level | None
    truncated: NotRequired[bool]  # only when true: cut at max_line_bytes
    fields: NotRequired[Fields]  # a log with a parser (not `auto`), when the line parsed; a journal line's entry


class NoticeCounts(TypedDict, total=False):
    missed: int  # gap, slow client: how many lines were skipped
    skipped_bytes: int  # gap on resume: how many bytes were not read back


class Notice(NoticeCounts):
    """The JSON of an SSE `notice` event. Notices carry no `id`, so they never move a resume position."""

    log: str | None  # None for the whole stream (shutdown)
    kind: NoticeKind
    message: str


class NoticeRecord(Notice):
    """A notice among the lines of NDJSON (a stream's or a search's): the event is named inside."""

    event: Literal["notice"]
MEDIA_TYPES: dict[Format, str] = {
    "sse": "text/event-stream; charset=utf-8",
    "text": "text/plain; charset=utf-8",
    "raw": "text/plain; charset=utf-8",
    "ndjson": "application/x-ndjson",
}
HEARTBEAT = b": ping\n\n"
LEVEL_JSON: dict[Level | None, bytes] = {None: b"null", **{level: f'"{level}"'.encode() for level in LEVELS}}


def json_str(s: str) -> bytes:
    return encode_basestring(s).encode()


def _compact_encoder() -> Callable[[Any, int], Any]:
    """json.dumps(obj, ensure_ascii=False, separators=(",", ":")) without what dumps costs per call: it
    builds a JSONEncoder and the C encoder each time, as much again as encoding a line's few fields. No
    check for circular containers (nothing encoded here holds itself)."""
    try:
        from _json import make_encoder  # CPython's C accelerator, which json.dumps uses
    except ImportError:
        encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
        return lambda obj, _level: (encoder.encode(obj),)
    return make_encoder(None, json.JSONEncoder().default, encode_basestring, None, ":", ",", False, False, True)


_ENCODE = _compact_encoder()


def dump_json(obj: Any) -> bytes:
    return "".join(_ENCODE(obj, 0)).encode()


def fields_json(fields: Fields) -> bytes:
    """A line's fields as a JSON object, the same bytes as `dump_json`. Every line of a parsed log is sent
    with its fields: most values need no escaping, and then the object is joined as it is (one pass of C
    string methods), else encoded in full."""
    if not fields:
        return b"{}"
    joined = '{"' + '","'.join([key + '":"' + value for key, value in fields.items()]) + '"}'
    # Each key and value adds two quotes and each separator two: more quotes means one was inside a value.
    # isprintable() is False for control characters (which JSON escapes) and for some others (encoded in full).
    if joined.count('"') == 4 * len(fields) and "\\" not in joined and joined.isprintable():
        return joined.encode()
    return dump_json(fields)


def encode_retry(milliseconds: int) -> bytes:
    return f"retry: {milliseconds}\n\n".encode()


class Line:
    """One complete line of one log, with its wire encodings computed on first use and then shared."""

    __slots__ = ("_cursor", "_fields", "_json", "_level", "_sse", "_sse_body", "end", "fid", "log", "parser",
                 "text", "truncated")

    def __init__(self, log: str, text: str, fid: str, end: int, truncated: bool = False,
                 parser: Parser | None = None) -> None:
        self.log = log
        self.text = text
        self.fid = fid
        self.end = end
        self.truncated = truncated
        self.parser = parser  # the log's parser; None: `auto` (JSON and logfmt lines recognised as they come)
        self._fields: Fields | Literal[""] | None = ""  # "": not parsed yet
        # Level and id are worked out when first asked for: a line nobody subscribes to, or one that only
        # goes out as text, needs neither.
        self._level: Level | Literal[""] | None = ""  # "": not detected yet (None is "no level")
        self._cursor: str | None = None
        self._json: bytes | None = None
        self._sse_body: bytes | None = None
        self._sse: bytes | None = None

    @property
    def level(self) -> Level | None:
        if self._level == "":
            self._level = detect_level(self.text) if self.parser is None else self.parser.level(self.text,
                                                                                                   self.fields)
        return self._level

    @property
    def fields(self) -> Fields | None:
        """The line's fields: from its log's parser, else those of a JSON or logfmt line (or None)."""
        if self._fields == "":
            self._fields = parse_fields(self.text) if self.parser is None else self.parser.fields(self.text)
        return self._fields

    @property
    def fields_of(self) -> Callable[[str], Fields | None]:
        """How this log's lines give fields (what a filter of one line is handed)."""
        return parse_fields if self.parser is None else self.parser.fields

    @property
    def sent_fields(self) -> Fields | None:
        """The fields sent with the line: a parsed log's (the page parses JSON and logfmt lines itself)."""
        return None if self.parser is None else self.fields

    @property
    def cursor(self) -> str:
        if self._cursor is None:
            self._cursor = cursor_text(self.log, self.fid, self.end)
        return self._cursor

    def record(self) -> LineRecord:
        """The line as a JSON object (what `json` encodes), for a response that adds fields to it."""
        record: LineRecord = {"log": self.log, "text": self.text, "id": self.cursor, "level": self.level}
        if self.truncated:
            record["truncated"] = True
        fields = self.sent_fields
        if fields is not None:
            record["fields"] = fields
        return record

    @property
    def json(self) -> bytes:
        # Built by hand rather than json.dumps(dict): same bytes, a third of the cost, once per line.
        if self._json is None:
            fields = self.sent_fields
            self._json = (
                b'{"log":' + json_str(self.log) + b',"text":' + json_str(self.text) + b',"id":'
                + json_str(self.cursor) + b',"level":' + LEVEL_JSON[self.level]
                + (b',"truncated":true' if self.truncated else b"")
                + (b"}" if fields is None else b',"fields":' + fields_json(fields) + b"}")
            )
        return self._json

    def json_with_id(self, event_id: bytes) -> bytes:
        """The line's JSON with `event_id` (a multi-log stream's, cursor characters only: nothing to escape)
        as its `id`. The first `,"id":"` is the id's: the log name has no quote, the text's are escaped."""
        head, _, tail = self.json.partition(b',"id":' + json_str(self.cursor))
        return head + b',"id":"' + event_id + b'"' + tail

    @property
    def sse_body(self) -> bytes:
        """The event without its `id:` field (the multi-log stream adds its own id)."""
        if self._sse_body is None:
            self._sse_body = b"event: line\ndata: " + self.json + b"\n\n"
        return self._sse_body

    def frame(self, fmt: Format) -> bytes:
        if fmt == "sse":
            if self._sse is None:
                self._sse = b"id: " + self.cursor.encode() + b"\n" + self.sse_body
            return self._sse
        if fmt == "ndjson":
            return self.json + b"\n"
        if fmt == "raw":
            return self.text.encode() + b"\n"
        return terminal_safe(self.text.encode()) + b"\n"


class CarriedLine(Line):
    """A line whose fields came with it, and its level when its source gave one (a journal entry's fields
    and PRIORITY, also once shipped through Redis): the fields are sent with it, and filters see them as a
    JSON line's keys (`FieldedText`)."""

    __slots__ = ()

    def __init__(self, log: str, text: FieldedText, fid: str, end: int, truncated: bool,
                 level: Level | Literal[""] | None) -> None:
        super().__init__(log, text, fid, end, truncated)
        self._level = level  # "": none given, detected from the text when asked

    @property
    def sent_fields(self) -> Fields:
        return self.text.carried if isinstance(self.text, FieldedText) else {}


def notice(log: str | None, kind: NoticeKind, message: str, **counts: Unpack[NoticeCounts]) -> Notice:
    return {"log": log, "kind": kind, "message": message, **counts}


def notice_record(log: str | None, kind: NoticeKind, message: str, **counts: Unpack[NoticeCounts]) -> NoticeRecord:
    return {"event": "notice", **notice(log, kind, message, **counts)}


def notice_frame(fmt: Format, log: str | None, kind: NoticeKind, message: str,
                 **counts: Unpack[NoticeCounts]) -> bytes:
    """A notice in a stream's format: an SSE `notice` event, an NDJSON record or a bracketed text line."""
    if fmt == "sse":
        return b"event: notice\ndata: " + dump_json(notice(log, kind, message, **counts)) + b"\n\n"
    if fmt == "ndjson":
        return dump_json(notice_record(log, kind, message, **counts)) + b"\n"
    return terminal_safe(f"[logtail] {log or '-'}: {kind}: {message}".encode()) + b"\n"
