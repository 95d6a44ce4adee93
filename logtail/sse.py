"""Server-Sent Events framing, and the records the hub fans out (lines and notices) with their wire bytes.

Everything a client receives is built here. Payloads are JSON, so a `\\r`, `\\n` or NUL inside a log line is
escaped and can never end a field or forge an `id:`; the bytes of a line are encoded once per format and
shared by every client that receives it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from json.encoder import encode_basestring
from typing import Any, Literal

from .levels import detect_level

Format = Literal["sse", "text", "ndjson"]
FORMATS: tuple[Format, ...] = ("sse", "text", "ndjson")
MEDIA_TYPES: dict[Format, str] = {
    "sse": "text/event-stream; charset=utf-8",
    "text": "text/plain; charset=utf-8",
    "ndjson": "application/x-ndjson",
}
HEARTBEAT = b": ping\n\n"
_LEVEL_JSON = {None: b"null", "error": b'"error"', "warn": b'"warn"', "info": b'"info"', "debug": b'"debug"'}


def _json_str(s: str) -> bytes:
    return encode_basestring(s).encode()


def dump_json(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def encode_event(data: str, event: str | None = None, id: str | None = None) -> bytes:
    """One SSE event. `data` may hold newlines (one `data:` field per line); `event`/`id` may not."""
    for name, value in (("event", event), ("id", id)):
        if value is not None and any(c in value for c in "\r\n\0"):
            raise ValueError(f"SSE {name} must not contain CR, LF or NUL: {value!r}")
    parts = []
    if id is not None:
        parts.append(f"id: {id}\n")
    if event is not None:
        parts.append(f"event: {event}\n")
    for line in data.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        parts.append(f"data: {line}\n")
    parts.append("\n")
    return "".join(parts).encode()


def encode_retry(milliseconds: int) -> bytes:
    return f"retry: {milliseconds}\n\n".encode()


def encode_comment(text: str) -> bytes:
    return b"".join(b": " + part.encode() + b"\n" for part in text.splitlines() or [""]) + b"\n"


def decode_events(stream: str) -> Iterator[dict[str, str]]:
    """Parse SSE text into events (dicts of field -> value) the way a browser does; for tests and tools.

    Comments are skipped, `data` fields are joined with newlines, an unterminated last event is dropped.
    """
    event: dict[str, str] = {}
    data: list[str] = []
    lines = stream.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for line in lines[:-1]:  # the text after the last terminator is an incomplete line
        if line == "":
            if data or event:
                if data:
                    event["data"] = "\n".join(data)
                yield event
            event, data = {}, []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            else:
                event[name] = value


class Line:
    """One complete line of one log, with its wire encodings computed on first use and then shared."""

    __slots__ = ("_cursor", "_json", "_level", "_sse", "_sse_body", "end", "fid", "log", "text", "truncated")

    def __init__(self, log: str, text: str, fid: str, end: int, truncated: bool = False) -> None:
        self.log = log
        self.text = text
        self.fid = fid
        self.end = end
        self.truncated = truncated
        # Level and id are worked out when first asked for: a line nobody subscribes to, or one that only
        # goes out as text, needs neither.
        self._level: str | None = ""  # "": not detected yet (None is "no level"; no level is named "")
        self._cursor: str | None = None
        self._json: bytes | None = None
        self._sse_body: bytes | None = None
        self._sse: bytes | None = None

    @property
    def level(self) -> str | None:
        if self._level == "":
            self._level = detect_level(self.text)
        return self._level

    @property
    def cursor(self) -> str:
        if self._cursor is None:
            self._cursor = f"{self.log}={self.fid}:{self.end}"
        return self._cursor

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"log": self.log, "text": self.text, "id": self.cursor, "level": self.level}
        if self.truncated:
            d["truncated"] = True
        return d

    @property
    def json(self) -> bytes:
        # Built by hand rather than json.dumps(dict): same bytes, a third of the cost, once per line.
        if self._json is None:
            self._json = (
                b'{"log":' + _json_str(self.log) + b',"text":' + _json_str(self.text) + b',"id":'
                + _json_str(self.cursor) + b',"level":' + _LEVEL_JSON[self.level]
                + (b',"truncated":true}' if self.truncated else b"}")
            )
        return self._json

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
        return self.text.encode() + b"\n"


def notice_frame(fmt: Format, log: str | None, kind: str, message: str, **extra: Any) -> bytes:
    """A change in a file or stream (rotated, truncated, missing, appeared, gap, unreadable, shutdown).

    Notices carry no `id`, so they never move a client's resume position.
    """
    payload = {"log": log, "kind": kind, "message": message, **extra}
    if fmt == "sse":
        return b"event: notice\ndata: " + dump_json(payload) + b"\n\n"
    if fmt == "ndjson":
        return dump_json({"event": "notice", **payload}) + b"\n"
    return f"[logtail] {log or '-'}: {kind}: {message}\n".encode()
