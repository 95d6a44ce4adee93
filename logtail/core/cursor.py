"""Cursors: positions in log files that survive server restarts.

A cursor names a log, the file's identity and the byte offset just after a line, e.g.
``app.log=3f9a0c1b2d4e:10452``. The identity is a hash of the file's first bytes (up to `HEAD_BYTES`, never
more than the offset), not its inode: inodes are reused at once after a rotation, while the first bytes of a
log (a timestamped first line) tell two files apart. A position is valid in a file whose head hashes to the
same id and that is at least `offset` bytes long. An event id on a multi-log stream joins one cursor per
log with commas.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

HEAD_BYTES = 256
# A log's name, or NAME@HOST for a log shipped from another host (logtail/sources/redis/keys.py).
_ENTRY = re.compile(r"([A-Za-z0-9._-]{1,128}(?:@[A-Za-z0-9._-]{1,64})?)=([0-9a-f]{12}):([0-9]{1,19})")


def file_id(head: bytes, offset: int) -> str:
    """Identity of the file whose first bytes are `head`, as seen by a position at `offset`."""
    return hashlib.blake2b(head[: min(offset, HEAD_BYTES)], digest_size=6).hexdigest()


def cursor_text(log: str, fid: str, offset: int) -> str:
    """A cursor as clients see it (a line's `id`), e.g. ``app.log=3f9a0c1b2d4e:10452``."""
    return f"{log}={fid}:{offset}"


def event_id(cursors: Iterable[str]) -> str:
    """The id of an event on a multi-log stream: one cursor per log, joined with commas."""
    return ",".join(cursors)


class EventIds:
    """A multi-log stream's event id as the stream goes on: one cursor per log, in the order the logs first
    came, joined with commas (the bytes of `event_id`). With many logs the id is long, and one cursor
    changes per line: the cursors are kept in runs of `RUN`, each joined again only once one of its cursors
    changed, so a line's id joins one run and the runs rather than every cursor."""

    RUN = 16
    __slots__ = ("_at", "_cursors", "_dirty", "_runs")

    def __init__(self) -> None:
        self._at: dict[str, int] = {}  # each log's place
        self._cursors: list[bytes] = []
        self._runs: list[bytes] = []  # each run of RUN cursors, joined
        self._dirty: set[int] = set()  # the runs to join again

    def __setitem__(self, log: str, cursor: str) -> None:
        at = self._at.get(log)
        if at is None:
            at = self._at[log] = len(self._cursors)
            self._cursors.append(b"")
            if at % self.RUN == 0:
                self._runs.append(b"")
        self._cursors[at] = cursor.encode()
        self._dirty.add(at // self.RUN)

    @property
    def changed(self) -> bool:
        """Whether a cursor was set since the id was last built."""
        return bool(self._dirty)

    def update(self, cursors: dict[str, str]) -> None:
        for log, cursor in cursors.items():
            self[log] = cursor

    def id(self) -> bytes:
        if self._dirty:
            runs, cursors, size = self._runs, self._cursors, self.RUN
            for run in self._dirty:
                runs[run] = b",".join(cursors[run * size:(run + 1) * size])
            self._dirty.clear()
        return b",".join(self._runs)


@dataclass(frozen=True, slots=True)
class Cursor:
    log: str
    fid: str
    offset: int

    def __str__(self) -> str:
        return cursor_text(self.log, self.fid, self.offset)


def parse_cursors(value: str | None) -> dict[str, Cursor]:
    """Parse an event id (one or more comma-separated cursors); malformed entries are ignored.

    Garbage in `Last-Event-ID` must not fail a reconnect: the client then simply gets no resume.
    """
    cursors: dict[str, Cursor] = {}
    if not value:
        return cursors
    for entry in value[:65536].split(","):
        m = _ENTRY.fullmatch(entry.strip())
        if m:
            cursors[m.group(1)] = Cursor(m.group(1), m.group(2), int(m.group(3)))
    return cursors

