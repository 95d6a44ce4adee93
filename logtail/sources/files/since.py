"""Where `since=` starts a stream: the position just before the first line written at or after a moment.

The answer is a cursor, and the stream then goes on exactly as a resume from it (resume.py): read back from
the current file or its rotated siblings, within `--resume-max-bytes`, then live lines with no gap and no
duplicate.

The search reads timestamps off the lines (timestamps.py) of the current file, up to what the hub has
published, then of `NAME.1`, `NAME.2`, ... (uncompressed, up to the first missing one) only as far back as
needed: an older file is read only when nothing in the newer one is older than the moment and the older one
was modified at or after it. Within a file it bisects over byte offsets (logs are written in time order),
then reads forward line by line. A line with no timestamp belongs with the line before it, so a stack
trace is never cut from its first line. Runs in a worker thread: it reads files.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from logtail.core.cursor import HEAD_BYTES, Cursor, file_id
from logtail.core.hub import Channel
from logtail.core.offloop import HEAVY
from logtail.match.timestamps import line_time
from logtail.sources.base import Start
from logtail.sources.files.follow import FileFollower
from logtail.sources.files.readback import MAX_SIBLINGS, ReadBack, current_range, open_sibling

READ = 64 * 1024
BISECT_MIN = 256 * 1024  # below this span, reading forward is cheaper than another probe
PROBE_BYTES = 4 * 1024 * 1024  # how far one probe reads looking for a timestamped line
STAMP_BYTES = 4096  # of a line, the bytes looked at for its timestamp
# After the bisection, how far reading forward goes without meeting a timestamp: a file with none (or one
# that stopped having them) ends the search there, instead of being read whole (a 317 MB file without
# timestamps cost 4.4 s of CPU per request).
SCAN_MAX = 2 * PROBE_BYTES


async def since_start(ch: Channel, follower: FileFollower | None, moment: float,
                      client: str = "") -> Start | None:
    """The start for `moment` in this log, or None when it has no current file (the stream is then live).
    The search runs in the heavy pool (offloop.HEAVY), one at a time per `client`: it can read a lot, and
    must not take the threads that password checks and resumes need."""
    current = current_range(ch, follower)
    if current is None or follower is None:
        return None
    try:
        # A parsed log's lines say when they were written in their time field (an RFC 5424 line's time is
        # not at its start, where `line_time` looks).
        time_of = line_time if follower.parser is None else follower.parser.time
        where = await HEAVY.run(client, _locate, ch.name, current, follower.path, moment, time.time(), time_of)
    finally:
        os.close(current.fd)
    return where


TimeOf = Callable[[str, float], float | None]


def _locate(name: str, current: ReadBack, path: Path, moment: float, now: float,
            time_of: TimeOf = line_time) -> Start:
    """Bisect the current file, then `NAME.1`, `NAME.2`, ... going back only while the file at hand has no
    line before the moment (its first lines may be newer than the moment, and so may the older file's)."""
    newer, found = current, _first_at_or_after(current.fd, current.stop, moment, now, time_of)
    opened: list[ReadBack] = []
    try:
        while True:
            if found.earlier:
                return _in(name, newer, newer.stop if found.offset is None else found.offset)
            older = open_sibling(path, len(opened) + 1) if len(opened) < MAX_SIBLINGS else None
            if older is None:
                # No older file: lines before the first timestamp have no earlier line to belong to; keep them.
                return _in(name, newer, newer.stop if found.offset is None else 0)
            opened.append(older)
            # mtime is the last write: a file last written before the moment holds no line at or after it.
            older_found = (_first_at_or_after(older.fd, older.stop, moment, now, time_of)
                           if os.fstat(older.fd).st_mtime >= moment else None)
            if older_found is None or older_found.offset is None:
                # Everything in the older file is older: lines at the top of the newer one without a timestamp
                # are the end of its last entry (a stack trace cut by the rotation), older too.
                return _in(name, newer, newer.stop if found.offset is None else found.offset)
            newer, found = older, older_found
    finally:
        for rb in opened:
            os.close(rb.fd)


@dataclass(frozen=True)
class _Found:
    offset: int | None  # start of the first line at or after the moment, None when there is none
    earlier: bool  # a line before the moment precedes it in this file


def _in(name: str, rb: ReadBack, offset: int) -> Start:
    if rb.path_name and offset == 0:
        # Offset 0 is in every file: the start of a sibling is named by the id of its whole head.
        return Start(Cursor(name, file_id(rb.head, HEAD_BYTES), 0), sibling_start=True)
    return Start(Cursor(name, file_id(rb.head, offset), offset))


def _first_at_or_after(fd: int, stop: int, moment: float, now: float, time_of: TimeOf = line_time) -> _Found:
    lo, hi, earlier = 0, stop, False
    # Invariant: `lo` is a line start and no line at or after the moment starts before it.
    while hi - lo > BISECT_MIN:
        mid = (lo + hi) // 2
        probe = next(_stamped(fd, mid, min(stop, mid + PROBE_BYTES), now, time_of), None)
        if probe is not None and probe[1] < moment:
            lo, earlier = probe[0], True
        else:
            hi = mid
    last_stamp = lo
    for start, raw in _lines(fd, lo, stop):
        stamp = _time_of(raw, now, time_of)
        if stamp is None:
            if start - last_stamp > SCAN_MAX:
                break  # no timestamps here: a bounded scan, not the whole file
            continue
        last_stamp = start
        if stamp >= moment:
            return _Found(start, earlier)
        earlier = True
    return _Found(None, earlier)


def _stamped(fd: int, pos: int, stop: int, now: float, time_of: TimeOf) -> Iterator[tuple[int, float]]:
    """(start, time) of each timestamped line starting at or after `pos` and before `stop`."""
    for start, raw in _lines(fd, pos, stop):
        stamp = _time_of(raw, now, time_of)
        if stamp is not None:
            yield start, stamp


def _time_of(raw: bytes, now: float, time_of: TimeOf = line_time) -> float | None:
    return time_of(raw[:STAMP_BYTES].decode("utf-8", "replace").rstrip("\r"), now)


def _lines(fd: int, pos: int, stop: int) -> Iterator[tuple[int, bytes]]:
    """(start, first bytes) of each line that starts in [pos, stop): at most STAMP_BYTES of a line are kept."""
    skip = pos > 0  # `pos` may be inside a line: read from the byte before it and drop the first piece
    pos = start = pos - 1 if skip else pos
    head, length = b"", 0  # the pending line's first bytes and its length so far
    while start < stop or skip:
        data = os.pread(fd, READ, pos)
        if not data:
            break
        pos += len(data)
        at = 0
        while (nl := data.find(b"\n", at)) >= 0:
            piece = head + data[at:min(nl, at + STAMP_BYTES)]
            line_start, start = start, start + length + nl - at + 1
            head, length, at = b"", 0, nl + 1
            if skip:
                skip = False
            elif line_start >= stop:
                return
            else:
                yield line_start, piece[:STAMP_BYTES]
        if len(head) < STAMP_BYTES:
            head += data[at:at + STAMP_BYTES - len(head)]
        length += len(data) - at
    if length and not skip and start < stop:  # a last line without a newline
        yield start, head
