"""The key layout in Redis and what one stream entry holds: the only module that knows either.

Keys (host and log names are URL-safe, so they can never contain `:` or reach another key):

- `logtail:stream:HOST:NAME`: one stream per host and log. Each entry carries a batch of consecutive lines
  of one file (one line when the log is quiet, up to `ENTRY_LINES` when it is busy) or one notice:
    `fid`   identity of the file the lines came from (as in cursor.py),
    `end`   byte offset just after the entry's last line (where a restarted shipper continues),
    `lines` the lines' text joined with "\\n" (a line never contains "\\n"),
    `cut`   (optional) comma-separated indexes of lines cut at max_line_bytes,
    `sizes` (optional, a log with `multiline`) comma-separated counts of the lines of each event: the
    entry's lines are then that many events, each its lines joined with "\\n", and the indexes of `cut`
    and of ids count events (so a resume never splits one); absent when every event is one line,
    `kind`, `message` (notice entries only: rotated, truncated, missing, gap, ...; `fid`/`end` are then
    the position of the last line shipped before the notice),
    `n`     the stream's count of lines up to and including this entry's (what --redis-maxlen trims by,
    ship/retention.py; absent in entries of older shippers),
    `carried` (optional) for lines that came with fields and a level of their own (a journal entry's fields
    and PRIORITY): JSON, one `[level or null, {field: value}]` per line, so that field filters, levels and
    the page's columns work on a web node as on the host; a line whose text has newlines (a journal
    message may) is one line of `lines` with spaces for them, and its text is the item's third element.
- `logtail:host:HOST`: a hash per shipping host, its heartbeat (sources/redis/hosts.py): `version`,
  `started`, `interval`, `last_seen` (Unix times; no TTL, so a host that stopped is still known), `stopped`
  (set by a clean stop), `logs` (JSON: per log its path, last write and lag in bytes).
- `logtail:logs`: a hash of the known logs, field `NAME@HOST`, value JSON `{"host", "name", "path",
  "last_seen"}` (last_seen: Unix time, refreshed by the shipper while it runs), and `"parse"` when the log
  has a parser: web nodes parse its lines with it (the lines travel as text).

Event ids. A shipped line's id must mean the same on every web node, so it is derived from the Redis entry
id `MS-SEQ` and the line's 1-based index K in the entry, in the form of a file cursor:
`NAME@HOST=<MS as 12 hex digits>:<SEQ * 2**20 + K>`. Offset 0 is never a line (K >= 1): it means "before
everything" like offset 0 of a file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, cast, get_args

from logtail.config import ConfigError
from logtail.core.frames import CarriedLine, Line, NoticeKind, dump_json
from logtail.match.fields import FieldedText, Fields
from logtail.match.levels import LEVELS, Level
from logtail.match.parsers import Parser

PREFIX = "logtail:"
LOGS_KEY = PREFIX + "logs"
HOST_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")
ENTRY_LINES = 512  # lines per entry at most
ENTRY_BYTES = 64 * 1024  # bytes of text per entry at most (a longer single line still gets its own entry)
INDEX_BITS = 20
LAST_INDEX = (1 << INDEX_BITS) - 1  # a line index past any entry's last line
MAX_LINE_BYTES = 65536  # a line's cap when the reader is given none (the default of --max-line-bytes)
MAX_MESSAGE_CHARS = 4096
MAX_FIELD_CHARS = 4096  # a carried field's value (the journal source keeps as much)
# What a valid entry holds: ASCII digits only (a regex, never `str.isdigit()`), sizes bounded.
_ENTRY_ID = re.compile(r"([0-9]{1,15})-([0-9]{1,19})")
_FID = re.compile(r"[0-9a-f]{1,32}")
_CURSOR_FID = re.compile(r"[0-9a-f]{12}")
_OFFSET = re.compile(r"[0-9]{1,19}")
_CUT = re.compile(r"[0-9]{1,7}(?:,[0-9]{1,7}){0,1048575}")


def check_host(host: str) -> str:
    if not HOST_RE.fullmatch(host) or host in (".", ".."):
        raise ConfigError(f"host name {host!r} is not URL-safe (use 1-64 of A-Z a-z 0-9 . _ -); set --host-name")
    return host


def is_safe(host: str, name: str) -> bool:
    dots = (".", "..")
    return bool(HOST_RE.fullmatch(host) and NAME_RE.fullmatch(name)) and host not in dots and name not in dots


def stream_key(host: str, name: str) -> str:
    return f"{PREFIX}stream:{host}:{name}"


def host_key(host: str) -> str:
    return f"{PREFIX}host:{host}"


HOST_KEYS = PREFIX + "host:*"  # the pattern that finds every host's record


def shipped_name(host: str, name: str) -> str:
    return f"{name}@{host}"


# --- entries -------------------------------------------------------------------------------------------


# Per line: the level and fields it came with, and its text when that has newlines (`lines` cannot hold them).
Carried = list[tuple[Level | None, Fields] | tuple[Level | None, Fields, str]]


def line_fields(texts: list[str], cut: list[int], fid: str, end: int, carried: Carried | None = None
                ) -> dict[str, str]:
    """An entry of lines, of lines with what they carry (a journal's), or of multi-line events (texts holding
    newlines: see `sizes` above). A log is never both: a journal source has no `multiline`."""
    joined = "\n".join(texts)
    many = joined.count("\n") != len(texts) - 1  # some text holds newlines of its own
    if carried is not None and many:
        joined = "\n".join(text.replace("\n", " ") for text in texts)
    fields = {"fid": fid, "end": str(end), "lines": joined}
    if cut:
        fields["cut"] = ",".join(map(str, cut))
    if carried is not None:
        fields["carried"] = dump_json(carried).decode()
    elif many:
        fields["sizes"] = ",".join(str(text.count("\n") + 1) for text in texts)
    return fields


def carried_of(lines: list[Line]) -> Carried | None:
    """What the lines of an entry carry (None when none of them is a `CarriedLine`)."""
    if not any(isinstance(line, CarriedLine) for line in lines):
        return None
    return [(line.level, line.sent_fields or {}, line.text) if "\n" in line.text else
            (line.level, line.sent_fields or {}) for line in lines]


def notice_fields(kind: NoticeKind, message: str, fid: str, end: int) -> dict[str, str]:
    return {"fid": fid, "end": str(end), "kind": kind, "message": message}


@dataclass(frozen=True)
class Entry:
    """One stream entry as read back, with its id split into milliseconds and sequence.

    Entries are untrusted input (any client that may XADD can write one): `decode_entry` checks every field,
    and an entry that fails is kept only as its id and `problem`, which readers turn into a `gap` notice.
    """

    ms: int
    seq: int
    fields: dict[str, str]
    problem: str | None = None  # why the entry is malformed: it carries no lines, only a gap notice
    carried: Carried | None = None  # its lines' own levels and fields (checked)

    @property
    def id(self) -> str:
        return f"{self.ms}-{self.seq}"

    @property
    def notice(self) -> tuple[NoticeKind, str] | None:
        if self.problem is not None:
            return "gap", f"a malformed entry in Redis was skipped ({self.problem})"
        kind = self.fields.get("kind")
        # Checked by `decode_entry` against the kinds a logtail shipper reports.
        return None if kind is None else (cast(NoticeKind, kind), self.fields.get("message", ""))

    @property
    def count(self) -> int | None:
        n = self.fields.get("n", "")
        return int(n) if n.isdigit() else None

    @property
    def position(self) -> tuple[str, int]:
        """The file position the entry ends at; ("", 0), a position in no file, for a malformed entry."""
        if self.problem is not None:
            return "", 0
        return self.fields["fid"], int(self.fields["end"])

    def lines(self, log: str, after: int = 0, max_line_bytes: int = MAX_LINE_BYTES,
              parser: Parser | None = None) -> list[Line]:
        """The entry's lines as hub lines (ids as in the module docstring), those with index > `after`;
        `parser`: the log's; a line longer than `max_line_bytes` is cut and flagged, as a local file's would be."""
        if self.notice is not None or "lines" not in self.fields:
            return []
        cut = {int(i) for i in self.fields["cut"].split(",")} if self.fields.get("cut") else set()
        fid = f"{self.ms:012x}"
        base = self.seq << INDEX_BITS
        out: list[Line] = []
        carried = self.carried
        for k, text in enumerate(self.texts(), start=1):
            if k > after:
                text, longer = _capped(text, max_line_bytes)
                if carried is None:
                    out.append(Line(log, text, fid, base + k, longer or (k - 1) in cut, parser))
                else:
                    level, own, *whole = carried[k - 1]
                    if whole:  # one journal message with newlines: capped as one line, as the journal source caps it
                        text, longer = _capped(whole[0], max_line_bytes, event=False)
                    out.append(CarriedLine(log, FieldedText(text, own), fid, base + k, longer or (k - 1) in cut,
                                           level))
        return out

    def texts(self) -> list[str]:
        """The text of each of the entry's lines, or of each event (`sizes`); none for a notice."""
        if self.notice is not None or "lines" not in self.fields:
            return []
        texts = self.fields["lines"].split("\n")
        sizes = self.fields.get("sizes")
        if not sizes:
            return texts
        events, at = [], 0
        for size in map(int, sizes.split(",")):  # checked by decode_entry: they add up to the lines
            events.append("\n".join(texts[at:at + size]))
            at += size
        return events


def _capped(text: str, max_bytes: int, event: bool = True) -> tuple[str, bool]:
    if event and "\n" in text:  # an event: each of its lines is capped, as the shipper's follower capped them
        parts = [_capped(part, max_bytes) for part in text.split("\n")]
        return "\n".join(p for p, _ in parts), any(longer for _, longer in parts)
    if len(text) <= max_bytes // 4:  # no UTF-8 character is longer than 4 bytes: surely short enough
        return text, False
    raw = text.encode()
    if len(raw) <= max_bytes:
        return text, False
    return raw[:max_bytes].decode("utf-8", "ignore"), True  # cut on a character boundary


def decode_entry(entry_id: Any, raw: Any) -> Entry:
    """An entry as redis-py returns it (id and field map, as bytes), every field checked."""
    m = _ENTRY_ID.fullmatch(text_of(entry_id))
    ms, seq = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    fields = {text_of(k): text_of(v) for k, v in (raw or {}).items()}
    # A line's id holds MS as 12 hex digits and SEQ above a 20-bit line index (module docstring).
    problem = None if m and ms < 1 << 48 and seq < 1 << 43 else "its id is out of range"
    problem = problem or _problem(fields)
    carried = None
    if problem is None and "carried" in fields:
        carried = _carried(fields["carried"], fields["lines"].count("\n") + 1)
        if carried is None:
            problem = "carried is not a level and fields per line"
    return Entry(ms, seq, fields, problem, carried)


# An entry as the raw XREAD reply holds it: its id and its fields and values in turn, all bytes.
RawEntry = tuple[bytes, list[bytes]]
_PLAIN = [b"fid", b"end", b"lines"]  # the fields of a plain entry of lines, in the order a shipper writes them
_FID_BYTES = re.compile(rb"[0-9a-f]{1,32}")
_ENTRY_ID_BYTES = re.compile(rb"([0-9]{1,15})-([0-9]{1,19})")


def decode_raw(entry_id: bytes, flat: list[bytes], log: str, max_line_bytes: int = MAX_LINE_BYTES,
               parser: Parser | None = None) -> list[Line] | Entry:
    """An entry of the raw XREAD reply: its lines when it is a plain entry of lines, else the `Entry`.

    A plain entry (`fid`, `end`, `lines`, then `n` or nothing: what a shipper writes for lines with no
    `cut`, `sizes` or `carried`) is most of a stream, one entry per line on a quiet log. Its lines are built
    here with the checks of `decode_entry` on the bytes as they came, and no field map or `Entry`: the same
    lines `Entry.lines` gives. Any other entry, or one a check refuses, is decoded by `decode_entry` (which
    names what is wrong with it), as entries written before or by other shippers are.
    """
    if flat and flat[0:6:2] == _PLAIN and (len(flat) == 6 or (len(flat) == 8 and flat[6] == b"n")):
        m = _ENTRY_ID_BYTES.fullmatch(entry_id)
        end = flat[3]
        if m and _FID_BYTES.fullmatch(flat[1]) and end.isdigit() and len(end) <= 19:  # bytes: ASCII digits only
            ms, seq = int(m.group(1)), int(m.group(2))
            text = flat[5].decode("utf-8", "replace")
            if ms < 1 << 48 and seq < 1 << 43 and text.count("\n") < LAST_INDEX:
                fid = f"{ms:012x}"
                base = seq << INDEX_BITS
                if "\n" not in text:  # a quiet log's entry: one line
                    text, longer = _capped(text, max_line_bytes)
                    return [Line(log, text, fid, base + 1, longer, parser)]
                out = []
                for k, line in enumerate(text.split("\n"), start=1):
                    line, longer = _capped(line, max_line_bytes)
                    out.append(Line(log, line, fid, base + k, longer, parser))
                return out
    return decode_entry(entry_id, dict(zip(flat[::2], flat[1::2], strict=False)) if flat else {})


def _carried(raw: str, count: int) -> Carried | None:
    """The `carried` field checked: one [level or null, {str: str}] or [level or null, {str: str}, text] per
    line, values at most MAX_FIELD_CHARS."""
    try:
        items = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if type(items) is not list or len(items) != count:
        return None
    out: Carried = []
    for item in items:
        if type(item) is not list or len(item) not in (2, 3):
            return None
        level, own, *whole = item
        if (level is not None and level not in LEVELS) or type(own) is not dict or any(type(t) is not str
                                                                                      for t in whole):
            return None
        if not all(type(v) is str and len(v) <= MAX_FIELD_CHARS for v in own.values()):
            return None
        out.append((level, own, *whole))
    return out


def _problem(fields: dict[str, str]) -> str | None:
    """What is wrong with an entry's fields, or None. Digits are ASCII digits (`str.isdigit` accepts `²`,
    which `int` refuses), sizes are bounded."""
    if not _FID.fullmatch(fields.get("fid", "")):
        return "fid is not a file id"
    if not _OFFSET.fullmatch(fields.get("end", "")):
        return "end is not an offset"
    kind = fields.get("kind")
    if kind is not None:
        if kind not in get_args(NoticeKind):
            return "unknown notice kind"
        if len(fields.get("message", "")) > MAX_MESSAGE_CHARS:
            return "notice message too long"
        return None
    if "lines" not in fields:
        return "neither lines nor a notice"
    count = fields["lines"].count("\n") + 1
    if count >= 1 << INDEX_BITS:
        return "too many lines"
    sizes = fields.get("sizes")
    if sizes is not None and "carried" in fields:
        return "sizes and carried together (events carry nothing)"
    if sizes is not None:
        counts = [int(n) for n in sizes.split(",")] if _CUT.fullmatch(sizes) else [0]
        if min(counts) < 1 or sum(counts) != count:
            return "sizes is not a list of line counts adding up to the lines"
        count = sizes.count(",") + 1  # what `cut` indexes: events
    cut = fields.get("cut")
    if cut is not None and not (_CUT.fullmatch(cut) and all(int(i) < count for i in cut.split(","))):
        return "cut is not a list of line indexes"
    return None


def text_of(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def entry_time(fid: str) -> float | None:
    """When Redis stored the entry a shipped line's `fid` names (seconds since the epoch), or None."""
    return int(fid, 16) / 1000 if _CURSOR_FID.fullmatch(fid) else None


def entry_of_cursor(fid: str, offset: int) -> tuple[str, int] | None:
    """The entry id and line index a shipped line's cursor names, or None for "before everything" (and for
    a cursor that cannot name an entry: its fid is not the 12 hex digits of a millisecond time)."""
    if offset == 0 or not _CURSOR_FID.fullmatch(fid):
        return None
    return f"{int(fid, 16)}-{offset >> INDEX_BITS}", offset & ((1 << INDEX_BITS) - 1)


# --- the registry of known logs -------------------------------------------------------------------------


def registry_value(host: str, name: str, path: str, last_seen: float, parse: str = "auto") -> str:
    record: dict[str, Any] = {"host": host, "name": name, "path": path, "last_seen": round(last_seen, 3)}
    if parse != "auto":
        record["parse"] = parse
    return json.dumps(record)


@dataclass(frozen=True)
class KnownLog:
    host: str
    name: str
    path: str
    last_seen: float
    parse: str = "auto"  # the log's parser as the shipper was configured (checked by the web node)

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
            parse = str(record.get("parse", "auto"))
        except (ValueError, TypeError, KeyError):
            continue
        if is_safe(host, name):
            known.append(KnownLog(host, name, path, last_seen, parse))
    return known
