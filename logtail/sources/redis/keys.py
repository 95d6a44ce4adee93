"""The key layout in Redis and what one stream entry holds: the only module that knows either.

Keys (host and log names are URL-safe, so they can never contain `:` or reach another key):

- `logtail:stream:HOST:NAME`: one stream per host and log. Each entry carries a batch of consecutive lines
  of one file (one line when the log is quiet, up to `ENTRY_LINES` when it is busy) or one notice:
    `fid`   identity of the file the lines came from (as in cursor.py),
    `end`   byte offset just after the entry's last line (where a restarted shipper continues),
    `lines` the lines' text joined with "\\n" (a line never contains "\\n"),
    `cut`   (optional) comma-separated indexes of lines cut at max_line_bytes,
    `kind`, `message` (notice entries only: rotated, truncated, missing, gap, ...; `fid`/`end` are then
    the position of the last line shipped before the notice).
- `logtail:logs`: a hash of the known logs, field `NAME@HOST`, value JSON `{"host", "name", "path",
  "last_seen"}` (last_seen: Unix time, refreshed by the shipper while it runs).

Event ids. A shipped line's id must mean the same on every web node, so it is derived from the Redis entry
id `MS-SEQ` and the line's 1-based index K in the entry, in the form of a file cursor:
`NAME@HOST=<MS as 12 hex digits>:<SEQ * 2**20 + K>`. Offset 0 is never a line (K >= 1): it means "before
everything" like offset 0 of a file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, cast

from logtail.config import ConfigError
from logtail.core.frames import Line, NoticeKind

PREFIX = "logtail:"
LOGS_KEY = PREFIX + "logs"
HOST_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")
ENTRY_LINES = 512  # lines per entry at most
ENTRY_BYTES = 64 * 1024  # bytes of text per entry at most (a longer single line still gets its own entry)
INDEX_BITS = 20
LAST_INDEX = (1 << INDEX_BITS) - 1  # a line index past any entry's last line


def check_host(host: str) -> str:
    if not HOST_RE.fullmatch(host) or host in (".", ".."):
        raise ConfigError(f"host name {host!r} is not URL-safe (use 1-64 of A-Z a-z 0-9 . _ -); set --host-name")
    return host


def is_safe(host: str, name: str) -> bool:
    dots = (".", "..")
    return bool(HOST_RE.fullmatch(host) and NAME_RE.fullmatch(name)) and host not in dots and name not in dots


def stream_key(host: str, name: str) -> str:
    return f"{PREFIX}stream:{host}:{name}"


def shipped_name(host: str, name: str) -> str:
    return f"{name}@{host}"


# --- entries -------------------------------------------------------------------------------------------


def line_fields(texts: list[str], cut: list[int], fid: str, end: int) -> dict[str, str]:
    fields = {"fid": fid, "end": str(end), "lines": "\n".join(texts)}
    if cut:
        fields["cut"] = ",".join(map(str, cut))
    return fields


def notice_fields(kind: NoticeKind, message: str, fid: str, end: int) -> dict[str, str]:
    return {"fid": fid, "end": str(end), "kind": kind, "message": message}


@dataclass(frozen=True)
class Entry:
    """One stream entry as read back, with its id split into milliseconds and sequence."""

    ms: int
    seq: int
    fields: dict[str, str]

    @property
    def id(self) -> str:
        return f"{self.ms}-{self.seq}"

    @property
    def notice(self) -> tuple[NoticeKind, str] | None:
        kind = self.fields.get("kind")
        # Written by a logtail shipper (`notice_fields`), from the kinds its follower reports.
        return None if kind is None else (cast(NoticeKind, kind), self.fields.get("message", ""))

    @property
    def position(self) -> tuple[str, int]:
        end = self.fields.get("end", "0")
        return self.fields.get("fid", ""), int(end) if end.isdigit() else 0

    def lines(self, log: str, after: int = 0) -> list[Line]:
        """The entry's lines as hub lines (ids as in the module docstring), those with index > `after`."""
        if self.notice is not None or "lines" not in self.fields:
            return []
        cut = {int(i) for i in self.fields.get("cut", "").split(",") if i.isdigit()}
        fid = f"{self.ms:012x}"
        base = self.seq << INDEX_BITS
        texts = self.fields["lines"].split("\n")
        return [Line(log, text, fid, base + k, (k - 1) in cut)
                for k, text in enumerate(texts, start=1) if k > after]


def decode_entry(entry_id: Any, raw: Any) -> Entry:
    """An entry as redis-py returns it (id and field map, as bytes)."""
    ms, _, seq = text_of(entry_id).partition("-")
    fields = {text_of(k): text_of(v) for k, v in (raw or {}).items()}
    return Entry(int(ms), int(seq or 0), fields)


def text_of(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def entry_of_cursor(fid: str, offset: int) -> tuple[str, int] | None:
    """The entry id and line index a shipped line's cursor names, or None for "before everything"."""
    if offset == 0:
        return None
    return f"{int(fid, 16)}-{offset >> INDEX_BITS}", offset & ((1 << INDEX_BITS) - 1)


# --- the registry of known logs -------------------------------------------------------------------------


def registry_value(host: str, name: str, path: str, last_seen: float) -> str:
    return json.dumps({"host": host, "name": name, "path": path, "last_seen": round(last_seen, 3)})


@dataclass(frozen=True)
class KnownLog:
    host: str
    name: str
    path: str
    last_seen: float

    @property
    def shipped_name(self) -> str:
        return shipped_name(self.host, self.name)

    @property
    def key(self) -> str:
        return stream_key(self.host, self.name)


def parse_registry(raw: dict[Any, Any]) -> list[KnownLog]:
    """The registry's valid records; anything malformed or not URL-safe is ignored (it is only data)."""
    known = []
    for value in raw.values():
        try:
            record = json.loads(text_of(value))
            host, name = str(record["host"]), str(record["name"])
            path, last_seen = str(record.get("path", ""))[:4096], float(record.get("last_seen", 0))
        except (ValueError, TypeError, KeyError):
            continue
        if is_safe(host, name):
            known.append(KnownLog(host, name, path, last_seen))
    return known
