"""Where a new stream starts: the backlog, or exactly after the client's last cursor.

`plan()` runs on the event loop in the same step as the subscription, so it sees the hub exactly as the
subscription starts: every line published afterwards reaches the client's queue, every line before is in
the plan. A cursor is resumed, in order of preference, from the in-memory window, from the current file
(read back with a duplicated descriptor, so a rotation meanwhile does not matter), or from the rotated
sibling `NAME.1`; only when the position is in none of them does the client get a `gap` notice.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from .cursor import HEAD_BYTES, Cursor, file_id
from .filters import LineFilter
from .follow import FileFollower
from .hub import Channel
from .lines import LineSplitter
from .sse import Format, Line, notice_frame

BLOCK = 256 * 1024
# Lines to deliver that come from elsewhere than a file (a shipped log's Redis stream, logtail/redis/):
# called with the client's format, yields batches of lines and ready-made notice frames.
LineSource = Callable[[Format], AsyncIterator[list[Line] | bytes]]


@dataclass
class ReadBack:
    """A byte range of one open file to deliver before live lines."""

    fd: int
    head: bytes
    start: int
    stop: int
    partial: bool = False  # `start` may fall inside a line (the range was cut to a byte budget)


@dataclass
class Plan:
    log: str
    lines: list[Line] = field(default_factory=list)
    readbacks: list[ReadBack] = field(default_factory=list)
    notices: list[tuple[str, str, dict[str, int]]] = field(default_factory=list)  # kind, message, extra
    sources: list[LineSource] = field(default_factory=list)  # after the read-backs

    def close(self) -> None:
        for rb in self.readbacks:
            os.close(rb.fd)
        self.readbacks.clear()


def plan(ch: Channel, follower: FileFollower | None, cursor: Cursor | None, backlog: int,
         line_filter: LineFilter, resume_max_bytes: int, sibling_start: bool = False) -> Plan:
    """`sibling_start`: the cursor is the start of NAME.1 (since=), which offset 0 alone cannot tell."""
    p = Plan(ch.name)
    if cursor is None:
        p.lines = ch.tail(backlog, line_filter)
        return p
    after = ch.lines_after(cursor)
    if after is not None:
        p.lines = [line for line in after if line_filter.matches(line.text, line.level)]
        return p
    current = current_range(ch, follower)
    if current is not None and not sibling_start and _same_file(current, cursor) and cursor.offset <= current.stop:
        current.start = cursor.offset
        p.readbacks.append(current)
    else:
        sibling = _rotated_sibling(ch, follower, cursor)
        if sibling is not None:
            p.readbacks.append(sibling)
        else:
            p.notices.append(("gap", "the position to resume from is gone (file rotated or truncated since); "
                                     "continuing from the start of the current file", {}))
        if current is not None:
            p.readbacks.append(current)
    _bound(p, resume_max_bytes)
    return p


def _same_file(rb: ReadBack, cursor: Cursor) -> bool:
    return file_id(rb.head, cursor.offset) == cursor.fid


def current_range(ch: Channel, follower: FileFollower | None) -> ReadBack | None:
    """The current file from 0 to the hub's position (everything published from it so far)."""
    if follower is None or ch.position is None:
        return None
    dup = follower.dup_current()
    if dup is None:
        return None
    fd, gen = dup
    if gen.fid(ch.position.offset) != ch.position.fid:  # position is still in a drained, rotated file
        os.close(fd)
        return None
    return ReadBack(fd, gen.head, 0, ch.position.offset)


def _rotated_sibling(ch: Channel, follower: FileFollower | None, cursor: Cursor) -> ReadBack | None:
    if follower is None:
        return None
    path = Path(f"{follower.path}.1")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    head = os.pread(fd, HEAD_BYTES, 0)
    size = os.fstat(fd).st_size
    if cursor.offset <= size and file_id(head, cursor.offset) == cursor.fid:
        st, old = os.fstat(fd), follower.gen
        if old is not None and (st.st_dev, st.st_ino) == (old.dev, old.ino) and ch.position is not None:
            # The follower is still draining this file: what it has not published yet reaches the client
            # live, so the read-back stops where publishing is.
            size = min(size, ch.position.offset)
        return ReadBack(fd, head, cursor.offset, size)
    os.close(fd)
    return None


def _bound(p: Plan, limit: int) -> None:
    # Keep the newest `limit` bytes: a client gone for days is told what it missed instead of being sent
    # gigabytes. The cut lands mid-line; `read_lines` drops that first partial line.
    total = sum(rb.stop - rb.start for rb in p.readbacks)
    excess = total - limit
    if excess <= 0:
        return
    p.notices.append(("gap", f"{excess} bytes skipped: more than resume_max_bytes to catch up",
                      {"skipped_bytes": excess}))
    for rb in list(p.readbacks):
        cut = min(excess, rb.stop - rb.start)
        rb.start += cut
        excess -= cut
        if rb.start >= rb.stop:
            os.close(rb.fd)
            p.readbacks.remove(rb)
            continue
        rb.partial = True
        break


def _read_block(fd: int, offset: int, size: int) -> bytes:
    return os.pread(fd, size, offset)


async def read_lines(name: str, rb: ReadBack, max_line_bytes: int,
                     reader: Callable[[int, int, int], bytes] = _read_block) -> AsyncIterator[list[Line]]:
    """Lines of `rb`, a block at a time, each block read in a worker thread."""
    splitter = LineSplitter(max_line_bytes, rb.start)
    skip_first = rb.partial
    offset = rb.start
    while offset < rb.stop:
        data = await asyncio.to_thread(reader, rb.fd, offset, min(BLOCK, rb.stop - offset))
        if not data:
            break
        offset += len(data)
        raws = splitter.feed(data)
        if skip_first and raws:
            raws, skip_first = raws[1:], False
        yield [Line(name, r.text, file_id(rb.head, r.end), r.end, r.truncated) for r in raws]


def notice_frames(p: Plan, fmt: Format) -> bytes:
    return b"".join(notice_frame(fmt, p.log, kind, msg, **extra) for kind, msg, extra in p.notices)
