"""Reading a log back from its files, after a position that is no longer in the hub's window.

`read_back()` runs on the event loop and plans what to read up to the hub's position at that moment (the
plan's `end`): the current file from the position (read with a duplicated descriptor, so a rotation
meanwhile does not matter), or the rest of the rotated sibling `NAME.1` and then the current file; only
when the position is in none of them does the client get a `gap` notice. The reading itself happens off the
loop, a block at a time, at the pace of the client (catchup.py).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from .cursor import HEAD_BYTES, Cursor, file_id
from .follow import FileFollower
from .generation import Generation
from .hub import Channel
from .lines import LineSplitter
from .offloop import off_loop
from .sse import Format, Line, NoticeCounts, NoticeKind, notice_frame

BLOCK = 256 * 1024


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
    end: Cursor | None = None  # the hub's position when the plan was made: the read-back ends there
    lost: bool = False  # the position is in none of the files: the read-back starts after a hole
    readbacks: list[ReadBack] = field(default_factory=list)
    notices: list[tuple[NoticeKind, str, NoticeCounts]] = field(default_factory=list)

    def reads_past(self, at: Cursor) -> bool:
        """Whether a line of the read-back ends at `at`."""
        return any(rb.start < at.offset <= rb.stop and file_id(rb.head, at.offset) == at.fid
                   for rb in self.readbacks)

    def close(self) -> None:
        for rb in self.readbacks:
            os.close(rb.fd)
        self.readbacks.clear()


def read_back(ch: Channel, follower: FileFollower | None, cursor: Cursor, resume_max_bytes: int,
              sibling_start: bool = False) -> Plan:
    """`sibling_start`: the cursor is the start of NAME.1 (since=), which offset 0 alone cannot tell."""
    p = Plan(ch.name, ch.position)
    current = current_range(ch, follower)
    if current is not None and not sibling_start and _same_file(current, cursor) and cursor.offset <= current.stop:
        current.start = cursor.offset
        p.readbacks.append(current)
    else:
        sibling = _rotated_sibling(ch, follower, cursor)
        if sibling is not None:
            p.readbacks.append(sibling)
        else:
            p.lost = True
            skipped, newer = _after_lost(follower, cursor)
            then = f"{follower.path.name}.1, then of " if newer is not None and follower is not None else ""
            p.notices.append(("gap", "the position to resume from is gone (file rotated away beyond .1, or "
                                     f"truncated); continuing from the start of {then}the current file",
                              {"skipped_bytes": skipped} if skipped is not None else {}))
            if newer is not None:
                p.readbacks.append(newer)
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


def _after_lost(follower: FileFollower | None, cursor: Cursor) -> tuple[int | None, ReadBack | None]:
    """For a position in a file rotated away beyond `NAME.1`: the bytes lost (when the follower read that
    file and those after it), and `NAME.1` from its start when it is a file the follower rotated away since.

    Without the follower's record `NAME.1` could be any older file (after a truncation, say): it is only
    read when it is known to come after the position."""
    if follower is None:
        return None, None
    rotated = list(follower.rotated)
    found = [i for i, (gen, size) in enumerate(rotated)
             if cursor.offset <= size and file_id(gen.head, cursor.offset) == cursor.fid]
    if not found:
        return None, None
    i = found[-1]
    sizes = [size for _, size in rotated]
    newer = _open_sibling_among(follower.path, rotated[i + 1:])
    if newer is None:
        return sizes[i] - cursor.offset + sum(sizes[i + 1:]), None
    fd, k = newer
    j = i + 1 + k
    return sizes[i] - cursor.offset + sum(sizes[i + 1:j]), ReadBack(fd, rotated[j][0].head, 0, sizes[j])


def _open_sibling_among(path: Path, candidates: list[tuple[Generation, int]]) -> tuple[int, int] | None:
    """`NAME.1` open, and its index in `candidates`, when it is one of those files."""
    try:
        fd = os.open(f"{path}.1", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    st = os.fstat(fd)
    for k, (gen, _) in enumerate(candidates):
        if (gen.dev, gen.ino) == (st.st_dev, st.st_ino):
            return fd, k
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
    """Lines of `rb`, a block at a time, each block read in a worker thread (`off_loop`: the caller closes
    `rb.fd` when it is done, perhaps because it was cancelled during a read)."""
    splitter = LineSplitter(max_line_bytes, rb.start)
    skip_first = rb.partial
    offset = rb.start
    while offset < rb.stop:
        data = await off_loop(reader, rb.fd, offset, min(BLOCK, rb.stop - offset))
        if not data:
            break
        offset += len(data)
        raws = splitter.feed(data)
        if skip_first and raws:
            raws, skip_first = raws[1:], False
        yield [Line(name, r.text, file_id(rb.head, r.end), r.end, r.truncated) for r in raws]


def notice_frames(p: Plan, fmt: Format) -> bytes:
    return b"".join(notice_frame(fmt, p.log, kind, msg, **extra) for kind, msg, extra in p.notices)


async def plan_lines(p: Plan, max_line_bytes: int) -> AsyncIterator[list[Line]]:
    """Every line of the plan's read-backs, a block at a time."""
    for rb in p.readbacks:
        async for lines in read_lines(p.log, rb, max_line_bytes):
            yield lines
