"""Reading a log back from its files, after a position that is no longer in the hub's window.

`plan_read_back()` takes, on the event loop, the hub's position (the plan's `end`) and what the follower
knows at that one moment, then plans in a worker thread, where every file is opened, what to read up to
`end`: the current file from the position (read with a duplicated descriptor, so a rotation
meanwhile does not matter), or the rest of the rotated sibling `NAME.k` that holds it, then `NAME.(k-1)` ...
`NAME.1` wholly and the current file. Siblings are walked from `NAME.1` back to the first missing one, at most
`MAX_SIBLINGS`; a compressed `NAME.k.gz` is out of reach and ends the walk. Only when the position is in none
of them does the client get a `gap` notice. The reading itself happens off the loop, a block at a time, at the
pace of the client (catchup.py).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from logtail.core.block import LineBlock
from logtail.core.cursor import HEAD_BYTES, Cursor, file_id
from logtail.core.events import EventJoiner, Rule
from logtail.core.frames import Format, Line, NoticeCounts, NoticeKind, notice_frame
from logtail.core.hub import Channel
from logtail.core.lines import LineSplitter
from logtail.core.offloop import off_loop
from logtail.match.parsers import Parser
from logtail.sources.files.follow import FileFollower
from logtail.sources.files.generation import Generation
from logtail.sources.files.opening import open_regular

BLOCK = 256 * 1024
MAX_SIBLINGS = 8  # how far back rotated siblings are read: NAME.1 ... NAME.8


@dataclass
class ReadBack:
    """A byte range of one open file to deliver before live lines."""

    fd: int
    head: bytes
    start: int
    stop: int
    partial: bool = False  # `start` may fall inside a line (the range was cut to a byte budget)
    path_name: str = ""  # a rotated sibling's file name, for notices


@dataclass
class Plan:
    log: str
    end: Cursor | None = None  # the hub's position when the plan was made: the read-back ends there
    lost: bool = False  # the position is in none of the files: the read-back starts after a hole
    readbacks: list[ReadBack] = field(default_factory=list)
    notices: list[tuple[NoticeKind, str, NoticeCounts]] = field(default_factory=list)
    parser: Parser | None = None  # the log's: lines read back carry it as live lines do
    multiline: Rule | None = None  # the log's: read back as events, as they were published

    def reads_past(self, at: Cursor) -> bool:
        """Whether a line of the read-back ends at `at`."""
        return any(rb.start < at.offset <= rb.stop and file_id(rb.head, at.offset) == at.fid
                   for rb in self.readbacks)

    def close(self) -> None:
        for rb in self.readbacks:
            os.close(rb.fd)
        self.readbacks.clear()


@dataclass(frozen=True)
class _Follower:
    """What a plan needs of the follower, taken on the event loop with the hub's position."""

    path: Path
    publishing: tuple[int, int] | None  # (device, inode) of the file the follower reads
    rotated: list[tuple[Generation, int]]  # the files it let go, oldest first, with the size read from each


async def plan_read_back(ch: Channel, follower: FileFollower | None, cursor: Cursor, resume_max_bytes: int,
                         sibling_start: bool = False) -> Plan:
    """What to read back after `cursor`, planned in a worker thread: opening `NAME.1` ... and their `fstat`
    are system calls that serve one request, and stay off the loop like the reads (`sibling_start`: the
    cursor is the start of a rotated sibling, since=, never of the current file)."""
    return await off_loop(_plan, *_begin(ch, follower), cursor, resume_max_bytes, sibling_start,
                          discard=Plan.close)


def read_back(ch: Channel, follower: FileFollower | None, cursor: Cursor, resume_max_bytes: int,
              sibling_start: bool = False) -> Plan:
    """`plan_read_back` in the calling thread (for tests)."""
    return _plan(*_begin(ch, follower), cursor, resume_max_bytes, sibling_start)


def _begin(ch: Channel, follower: FileFollower | None) -> tuple[Plan, ReadBack | None, _Follower | None]:
    # On the loop, with no await: the hub's position and the follower's files are of one moment.
    p = Plan(ch.name, ch.position, parser=ch.parser, multiline=follower.multiline if follower else None)
    if follower is None:
        return p, None, None
    gen = follower.gen
    known = _Follower(follower.path, None if gen is None else (gen.dev, gen.ino), list(follower.rotated))
    return p, current_range(ch, follower), known


def _plan(p: Plan, current: ReadBack | None, follower: _Follower | None, cursor: Cursor, resume_max_bytes: int,
          sibling_start: bool) -> Plan:
    try:
        _fill(p, current, follower, cursor, sibling_start)
    except BaseException:
        if current is not None and current not in p.readbacks:
            os.close(current.fd)
        p.close()
        raise
    _bound(p, resume_max_bytes)
    return p


def _fill(p: Plan, current: ReadBack | None, follower: _Follower | None, cursor: Cursor,
          sibling_start: bool) -> None:
    if current is not None and not sibling_start and _same_file(current, cursor) and cursor.offset <= current.stop:
        current.start = cursor.offset
        p.readbacks.append(current)
    else:
        siblings = _siblings_to(follower, cursor)  # newest first, up to the one holding the position if any
        if siblings and _holds(siblings[-1], cursor):
            siblings[-1].start = cursor.offset
        else:
            p.lost = True
            skipped, oldest = _after_lost(follower, cursor, siblings)
            newer = ", of each newer one" if oldest else ""
            then = "" if oldest is None else f"{siblings[oldest].path_name}{newer}, then of "
            p.notices.append(("gap", f"the position to resume from is gone (file rotated away beyond "
                                     f".{MAX_SIBLINGS}, compressed, or truncated); continuing from the start of "
                                     f"{then}the current file",
                              {"skipped_bytes": skipped} if skipped is not None else {}))
            for rb in siblings[(oldest + 1) if oldest is not None else 0:]:
                os.close(rb.fd)
            siblings = siblings[:oldest + 1] if oldest is not None else []
        siblings, draining = _up_to_publishing(p.end, follower, siblings[::-1])
        p.readbacks.extend(siblings)
        if current is not None and not draining:
            p.readbacks.append(current)
        elif current is not None:
            os.close(current.fd)  # the walk ended in the file the follower is draining: the rest comes live


def _same_file(rb: ReadBack, cursor: Cursor) -> bool:
    return file_id(rb.head, cursor.offset) == cursor.fid


def _holds(rb: ReadBack, cursor: Cursor) -> bool:
    # Offset 0 is in every file: a start cursor (since=) names its sibling by the id of its whole head.
    return cursor.offset <= rb.stop and (_same_file(rb, cursor) or (
        cursor.offset == 0 and file_id(rb.head, HEAD_BYTES) == cursor.fid))


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


def open_whole(path: Path, path_name: str = "", follow_symlinks: bool = True) -> ReadBack | None:
    """All of the file at `path` as it is now, open; None when there is no regular file to read there.
    Called on the event loop: the open never blocks (opening.py: a FIFO by that name is refused at once)."""
    try:
        fd, st = open_regular(path, follow_symlinks=follow_symlinks)
    except OSError:
        return None
    try:
        return ReadBack(fd, os.pread(fd, HEAD_BYTES, 0), 0, st.st_size, path_name=path_name)
    except OSError:
        os.close(fd)
        return None


def open_sibling(path: Path, k: int) -> ReadBack | None:
    """All of the uncompressed rotated sibling `NAME.k`, open; None when there is none (or it is a symlink,
    which history skips too)."""
    return open_whole(Path(f"{path}.{k}"), f"{path.name}.{k}", follow_symlinks=False)


def _siblings_to(follower: _Follower | None, cursor: Cursor) -> list[ReadBack]:
    """`NAME.1`, `NAME.2`, ... open, newest first, up to the first that holds the position, else up to the
    first missing one (a compressed `NAME.k.gz` is out of reach and ends the walk too)."""
    found: list[ReadBack] = []
    if follower is None:
        return found
    for k in range(1, MAX_SIBLINGS + 1):
        rb = open_sibling(follower.path, k)
        if rb is None:
            break
        found.append(rb)
        if _holds(rb, cursor):
            break
    return found


def _up_to_publishing(end: Cursor | None, follower: _Follower | None,
                      oldest_first: list[ReadBack]) -> tuple[list[ReadBack], bool]:
    """The siblings to read, oldest first, and whether the follower is still draining the last of them: what
    it has not published yet reaches the client live, so the read-back stops where publishing is (no newer
    sibling, no current file)."""
    publishing = follower.publishing if follower is not None else None
    for i, rb in enumerate(oldest_first):
        st = os.fstat(rb.fd)
        if publishing is not None and (st.st_dev, st.st_ino) == publishing and end is not None:
            rb.stop = min(rb.stop, end.offset)
            for newer in oldest_first[i + 1:]:
                os.close(newer.fd)
            return oldest_first[:i + 1], True
    return oldest_first, False


def _after_lost(follower: _Follower | None, cursor: Cursor,
                siblings: list[ReadBack]) -> tuple[int | None, int | None]:
    """For a position in a file out of reach: the bytes lost (when the follower read that file and those
    after it), and which of `siblings` (newest first) to read from its start: the oldest that is a file the
    follower rotated away since; the newer siblings follow it.

    Without the follower's record a sibling could be any older file (after a truncation, say): it is only
    read when it is known to come after the position."""
    if follower is None:
        return None, None
    rotated = follower.rotated
    found = [i for i, (gen, size) in enumerate(rotated)
             if cursor.offset <= size and file_id(gen.head, cursor.offset) == cursor.fid]
    if not found:
        return None, None
    i = found[-1]
    sizes = [size for _, size in rotated]
    newer = _oldest_among(siblings, rotated[i + 1:])
    if newer is None:
        return sizes[i] - cursor.offset + sum(sizes[i + 1:]), None
    m, k = newer
    return sizes[i] - cursor.offset + sum(sizes[i + 1:i + 1 + k]), m


def _oldest_among(siblings: list[ReadBack], candidates: list[tuple[Generation, int]]) -> tuple[int, int] | None:
    """The index of the oldest of `siblings` that is one of `candidates`, and its index there."""
    for m in reversed(range(len(siblings))):
        st = os.fstat(siblings[m].fd)
        for k, (gen, _) in enumerate(candidates):
            if (gen.dev, gen.ino) == (st.st_dev, st.st_ino):
                return m, k
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
                     reader: Callable[[int, int, int], bytes] = _read_block,
                     parser: Parser | None = None,
                     multiline: Rule | None = None) -> AsyncIterator[list[Line] | LineBlock]:
    """Lines of `rb`, a block at a time, each block read in a worker thread (`off_loop`: the caller closes
    `rb.fd` when it is done, perhaps because it was cancelled during a read). Clean lines past the file's
    head come as one block of bytes, as the follower publishes them (block.py): a laggard is caught up as
    cheaply as it is served live."""
    splitter = LineSplitter(max_line_bytes, rb.start)
    skip_first = rb.partial
    offset = rb.start
    full_head = len(rb.head) >= HEAD_BYTES and multiline is None
    # A log of multi-line events is read back as events, as it was published: ends at event ends.
    joiner = EventJoiner(multiline, rb.start) if multiline is not None else None
    while offset < rb.stop:
        data = await off_loop(reader, rb.fd, offset, min(BLOCK, rb.stop - offset))
        if not data:
            break
        offset += len(data)
        if full_head and not skip_first and splitter.line_start >= HEAD_BYTES:
            clean = splitter.feed_clean(data)
            if clean is not None:
                yield LineBlock.of_bytes(name, file_id(rb.head, clean[0]), *clean, parser)
                continue
        raws = splitter.feed(data)
        if skip_first and raws:
            raws, skip_first = raws[1:], False
        if joiner is not None:
            raws = joiner.feed(raws)
        yield [Line(name, r.text, file_id(rb.head, r.end), r.end, r.truncated, parser) for r in raws]
    if joiner is not None and joiner.pending:  # the read-back ends at the hub's position: an event's end
        yield [Line(name, r.text, file_id(rb.head, r.end), r.end, r.truncated, parser) for r in joiner.flush()]


def notice_frames(p: Plan, fmt: Format) -> bytes:
    return b"".join(notice_frame(fmt, p.log, kind, msg, **extra) for kind, msg, extra in p.notices)


async def plan_lines(p: Plan, max_line_bytes: int) -> AsyncIterator[list[Line] | LineBlock]:
    """Every line of the plan's read-backs, a block at a time."""
    for rb in p.readbacks:
        async for lines in read_lines(p.log, rb, max_line_bytes, parser=p.parser, multiline=p.multiline):
            yield lines
