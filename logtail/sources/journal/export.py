"""journalctl's export format (`--output=export`) read into entries.

Why this format and not `--output=json`: journalctl 252 spends about four times the CPU writing JSON as
writing the export format (bench/journal_bench.py: 18-22 µs against 4.5-5 µs an entry in the same runs), and
JSON made its child most of the source's cost per entry; reading the export format in Python costs about what
parsing its JSON did (bench/RESULTS.md, "The journal source").

The format (systemd's JOURNAL_EXPORT_FORMATS): an entry is its fields, one a line as `NAME=value`, and ends
with an empty line. A value that is not printable UTF-8 or holds a newline is written binary: the name
alone on its line, then its length (64-bit little-endian), the bytes and a newline. A field given several
times is several lines. Each entry starts with journalctl's own `__CURSOR`, `__REALTIME_TIMESTAMP` and
`__MONOTONIC_TIMESTAMP`.

The usual batch (every value plain, every field once) is read by splitting the text, mostly in C; any
other (a binary value, a repeated field) is read field by field. A batch says which it was (`ExportBatch`):
the lines of a plain one are made a column at a time (block.py).
"""

from __future__ import annotations

import logging
import struct
from typing import NamedTuple

log = logging.getLogger(__name__)

Value = str | bytes | list[str | bytes]  # plain, binary, or a field given several times
Entry = dict[str, Value]
_LENGTH = struct.Struct("<Q")


class ExportBatch(NamedTuple):
    """The complete entries of one read. `sizes`: when every value is plain text given once, each entry's
    characters (a bound on the length of each of its values); None otherwise."""

    entries: list[Entry]
    sizes: list[int] | None = None


class ExportReader:
    """Complete entries out of journalctl's output as it is read, chunk by chunk.

    An entry longer than `max_entry_bytes` is skipped whole (and logged once per entry): a binary MESSAGE of
    a few MiB is kept, to be cut at --max-line-bytes; a runaway one is not held in memory.
    """

    def __init__(self, what: str, max_entry_bytes: int) -> None:
        self.what = what
        self.max_entry_bytes = max_entry_bytes
        self.pending = b""
        self.skipping = False
        self.skipped = 0  # entries skipped for being longer than max_entry_bytes

    def feed(self, chunk: bytes) -> list[Entry]:
        return self.read(chunk).entries

    def read(self, chunk: bytes) -> ExportBatch:
        """The entries `chunk` completes."""
        buf = self.pending + chunk if self.pending else chunk
        if self.skipping:  # inside an over-long entry: drop up to its end
            end = buf.find(b"\n\n")
            if end < 0:
                self.pending = buf[-1:]
                return ExportBatch([])
            buf, self.skipping = buf[end + 2:], False
        cut = buf.rfind(b"\n\n")
        if cut < 0:
            self.pending = buf
            if len(buf) > self.max_entry_bytes:
                self._skip()
            return ExportBatch([])
        batch, self.pending = parse(buf, cut)
        if len(self.pending) > self.max_entry_bytes:
            self._skip()
        return batch

    def _skip(self) -> None:
        self.skipped += 1
        self.skipping = True
        self.pending = self.pending[-1:]
        log.warning("%s: skipping a journal entry longer than %d bytes", self.what, self.max_entry_bytes)


def parse(buf: bytes, cut: int) -> tuple[ExportBatch, bytes]:
    """The entries in `buf` (which has an entry's end at `cut`) and what follows the last complete one."""
    try:
        texts = buf[:cut].decode().split("\n\n")
        entries: list[Entry] = []
        for text in texts:
            fields = text.split("\n")
            entry = dict([field.split("=", 1) for field in fields])  # a binary value's name has no "="
            if len(entry) != len(fields):
                raise ValueError("a field given twice")
            entries.append(entry)  # type: ignore[arg-type]  # each item is a [name, value] pair
        return ExportBatch(entries, list(map(len, texts))), buf[cut + 2:]
    except (UnicodeDecodeError, ValueError):
        entries, rest = parse_fields(buf)
        return ExportBatch(entries), rest


def parse_fields(buf: bytes) -> tuple[list[Entry], bytes]:
    """Field by field: binary values by their length, repeated fields as lists."""
    entries: list[Entry] = []
    start = i = 0
    entry: Entry = {}
    size = len(buf)
    while i < size:
        if buf[i] == 0x0A:  # the empty line that ends an entry
            entries.append(entry)
            entry, i = {}, i + 1
            start = i
            continue
        nl = buf.find(b"\n", i)
        if nl < 0:
            break
        line = buf[i:nl]
        eq = line.find(b"=")
        value: str | bytes
        if eq >= 0:
            name, value, i = line[:eq].decode(errors="replace"), line[eq + 1:].decode(errors="replace"), nl + 1
        else:
            if nl + 9 > size:
                break
            (length,) = _LENGTH.unpack_from(buf, nl + 1)
            end = nl + 9 + length
            if end + 1 > size:
                break
            name, value, i = line.decode(errors="replace"), buf[nl + 9:end], end + 1
        _add(entry, name, value)
    return entries, buf[start:]


def _add(entry: Entry, name: str, value: str | bytes) -> None:
    have = entry.get(name)
    if have is None:
        entry[name] = value
    elif isinstance(have, list):
        have.append(value)
    else:
        entry[name] = [have, value]
