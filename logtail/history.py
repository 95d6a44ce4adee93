"""History: a log's whole file and its rotated siblings, for downloads and searches.

A log `app.log` has rotated siblings beside it, `app.log.1`, `app.log.2.gz`, ... (what logrotate and most
loggers leave); they are found by listing the log's directory, never from request input. Files are opened
once per request and read only up to their size at that moment, so a growing log is served and searched as a
consistent snapshot.

Everything here is synchronous: `Search.step()` and the readers do one bounded piece of work (a block of at
most `BLOCK` bytes) and are called through `offloop.off_loop()` from `history_routes`, so the event loop never
waits on a disk and a request can stop between any two blocks. Range parsing follows RFC 9110 section 14.
"""

from __future__ import annotations

import functools
import gzip
import io
import os
import re
import stat
import time
import zlib
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal

from .cursor import HEAD_BYTES, Cursor, file_id
from .filters import LineFilter
from .scan import (
    Block,
    Hit,
    Matcher,
    backward_blocks,
    clip,
    decode_capped,
    forward_blocks,
    lines_after,
    lines_before,
)

DOWNLOAD_CHUNK = 256 * 1024
MAX_LIMIT = 10_000
DEFAULT_LIMIT = 100
MAX_CONTEXT = 50
Order = Literal["newest", "oldest"]


# --- HTTP Range (RFC 9110 section 14) ----------------------------------------------------------------

class RangeNotSatisfiable(Exception):
    """Every range in a well-formed Range header starts at or after the end of the file: answer 416."""


_RANGE_SPEC = re.compile(r"([0-9]*)-([0-9]*)")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The byte span `(start, stop)` (stop exclusive) a `Range` header asks for, or None to send it all.

    None for no header, a malformed one, another unit, several ranges (served whole: allowed by RFC 9110,
    and simpler than multipart/byteranges) and any range of an empty file. Example:
    `parse_range("bytes=-500", 1000) == (500, 1000)`.
    """
    if not header or size == 0:
        return None
    unit, sep, ranges = header.partition("=")
    if not sep or unit.strip().lower() != "bytes" or "," in ranges:
        return None
    m = _RANGE_SPEC.fullmatch(ranges.strip())
    if m is None or m.group(1) == m.group(2) == "":
        return None
    first, last = m.group(1), m.group(2)
    if first == "":  # suffix range: the last N bytes
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiable
        return max(0, size - length), size
    start = int(first)
    if last and int(last) < start:
        return None  # invalid range-spec: the header is ignored
    if start >= size:
        raise RangeNotSatisfiable
    return start, size if not last else min(int(last) + 1, size)


@dataclass(frozen=True)
class Validators:
    etag: str
    last_modified: str
    mtime: float

    @classmethod
    def of(cls, st: os.stat_result) -> Validators:
        # The size is part of the tag: a log that grew is a different representation.
        etag = f'"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}"'
        return cls(etag, formatdate(st.st_mtime, usegmt=True), st.st_mtime)

    def if_range_holds(self, if_range: str | None) -> bool:
        """Whether a Range may be applied under `If-Range` (RFC 9110 section 13.1.5): strong matches only."""
        if if_range is None:
            return True
        value = if_range.strip()
        if value.startswith(('"', "W/")):
            return value == self.etag
        try:
            when = parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError, IndexError):
            return False
        # A date is a strong validator only if the file has not changed within the second it names.
        return int(when) == int(self.mtime) and time.time() - self.mtime >= 1


# --- files: the log and its rotated siblings ---------------------------------------------------------

@dataclass(frozen=True)
class Sibling:
    path: Path
    number: int
    compressed: bool


def rotated_siblings(log_path: Path) -> list[Sibling]:
    """Regular files `NAME.N` and `NAME.N.gz` beside the log, by N (1 = most recent). Symlinks are skipped.

    When both `NAME.N` and `NAME.N.gz` exist (a compressor at work), the uncompressed one is listed.
    """
    pattern = re.compile(re.escape(log_path.name) + r"\.([0-9]{1,6})(\.gz)?")
    found: dict[int, Sibling] = {}
    try:
        names = os.listdir(log_path.parent)
    except OSError:
        return []
    for name in names:
        m = pattern.fullmatch(name)
        if m is None:
            continue
        path = log_path.parent / name
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
        except OSError:
            continue
        number, compressed = int(m.group(1)), m.group(2) is not None
        if number > 0 and (number not in found or found[number].compressed):
            found[number] = Sibling(path, number, compressed)
    return [found[n] for n in sorted(found)]


@dataclass
class LogFile:
    """One open file of a log: the live file (`rotated == 0`) or a rotated sibling."""

    label: str  # the file's name, shown to clients
    rotated: int
    compressed: bool
    fd: int
    size: int  # bytes on disk when opened: nothing past this is read
    mtime: float
    identity: tuple[int, int]
    head: bytes = b""  # first HEAD_BYTES of the content (decompressed), the cursors' file id
    validators: Validators | None = None

    def close(self) -> None:
        os.close(self.fd)


def open_file(path: Path, rotated: int = 0, compressed: bool = False, with_head: bool = True) -> LogFile:
    flags = os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0)
    if rotated:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise IsADirectoryError(f"{path.name} is not a regular file")
        f = LogFile(path.name, rotated, compressed, fd, st.st_size, st.st_mtime, (st.st_dev, st.st_ino),
                    validators=Validators.of(st))
        if with_head:
            f.head = _gzip_head(fd) if compressed else os.pread(fd, HEAD_BYTES, 0)
        return f
    except BaseException:
        os.close(fd)
        raise


def _gzip_head(fd: int) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.FileIO(fd, closefd=False)) as gz:
            return gz.read(HEAD_BYTES)
    except (OSError, EOFError, zlib.error):
        return b""


def open_chain(log_path: Path, siblings: bool) -> list[LogFile]:
    """The live file and, with `siblings`, the rotated ones: oldest first, the live file (if any) last."""
    files: list[LogFile] = []
    try:
        if siblings:
            for sib in reversed(rotated_siblings(log_path)):
                try:
                    files.append(open_file(sib.path, sib.number, sib.compressed))
                except OSError:
                    continue  # rotated away or unreadable meanwhile
        try:
            live = open_file(log_path)
        except FileNotFoundError:
            return files
        if any(f.identity == live.identity for f in files):  # renamed between listing and opening
            live.close()
        else:
            files.append(live)
        return files
    except BaseException:
        for f in files:
            f.close()
        raise


# --- search --------------------------------------------------------------------------------------------

class CursorNotFound(Exception):
    """A well-formed `before`/`after` cursor that points into none of the log's files."""

    def __init__(self, param: str) -> None:
        super().__init__(f"{param}: no file of this log has that position (rotated away or truncated since?)")
        self.param = param


@dataclass(frozen=True)
class SearchRequest:
    filter: LineFilter
    order: Order = "newest"
    limit: int = DEFAULT_LIMIT
    context: int = 0
    before: Cursor | None = None
    after: Cursor | None = None
    rotated: bool = False


@dataclass
class Region:
    """The part of one file to search: lines starting at or after `lo` and ending at or before `end_max`."""

    file: LogFile
    lo: int = 0
    end_max: int | None = None

    @property
    def total(self) -> int:
        if self.file.compressed:
            return self.file.size
        return max(0, (self.file.size if self.end_max is None else self.end_max) - self.lo)


def locate(files: list[LogFile], cursor: Cursor) -> int | None:
    """Index of the file a cursor points into (the newest that fits), or None."""
    for i in reversed(range(len(files))):
        f = files[i]
        if file_id(f.head, cursor.offset) != cursor.fid:
            continue
        if f.compressed:
            return i
        if cursor.offset > f.size:
            continue
        at_line_end = cursor.offset == 0 or os.pread(f.fd, 1, cursor.offset - 1) == b"\n"
        if at_line_end or (f.rotated and cursor.offset == f.size):
            return i
    return None


def plan_regions(files: list[LogFile], req: SearchRequest) -> list[Region]:
    """The regions to search, in output order. A cursor is looked up in every file given (`files` holds
    the siblings whenever a cursor is given); without `rotated` only the live file is searched, or the
    cursor's file and, after it, the newer ones."""
    if not files:
        return []
    first = 0 if req.rotated else len(files) - 1
    last = len(files) - 1
    i_after = i_before = None
    if req.after is not None:
        i_after = locate(files, req.after)
        if i_after is None:
            raise CursorNotFound("after")
        first = i_after
    if req.before is not None:
        i_before = locate(files, req.before)
        if i_before is None:
            raise CursorNotFound("before")
        last = i_before
        if req.after is None and not req.rotated:
            first = i_before
    regions = []
    for i in range(first, last + 1):
        region = Region(files[i])
        if i == i_after and req.after is not None:
            region.lo = req.after.offset
        if i == i_before and req.before is not None:
            region.end_max = req.before.offset - 1  # lines ending before the cursor's line ends
        regions.append(region)
    return regions[::-1] if req.order == "newest" else regions


class GzipReader:
    """Sequential reads of a gzip file through `forward_blocks` (positions are in uncompressed bytes)."""

    def __init__(self, fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        self.raw = io.FileIO(fd, closefd=False)
        self.gz = gzip.GzipFile(fileobj=self.raw)
        self.pos = 0
        self.error = ""

    def read(self, pos: int, size: int) -> bytes:
        assert pos == self.pos, "gzip files are read sequentially"
        try:
            data = self.gz.read(size)
        except (OSError, EOFError, zlib.error) as exc:  # corrupt, or cut short while being written
            self.error = str(exc) or type(exc).__name__
            return b""
        self.pos += len(data)
        return data

    @property
    def compressed_pos(self) -> int:
        return self.raw.tell()


@dataclass
class ContextWindow:
    """Context lines for a sequential (gzip) scan: the last `n` lines seen, and hits awaiting lines after."""

    n: int
    cap: int
    recent: deque[str] = field(default_factory=deque)
    pending: list[dict[str, Any]] = field(default_factory=list)

    def before(self, block: Block, start: int) -> list[str]:
        lines = _block_lines(block, start, self.n, self.cap, backwards=True)
        need = self.n - len(lines)
        return (list(self.recent)[max(0, len(self.recent) - need):] if need else []) + lines

    def after(self, block: Block, stop: int, hit: dict[str, Any]) -> None:
        hit["context_after"] = _block_lines(block, stop + 1, self.n, self.cap)
        if len(hit["context_after"]) < self.n:
            self.pending.append(hit)

    def complete(self, block: Block) -> None:
        """Lines of `block` (which follows every pending hit) become their context after."""
        if self.pending:
            lines = _block_lines(block, 0, self.n, self.cap)
            for hit in self.pending:
                hit["context_after"].extend(lines[: self.n - len(hit["context_after"])])
            self.pending = [h for h in self.pending if len(h["context_after"]) < self.n]

    def remember(self, block: Block) -> None:
        if self.n:
            self.recent.extend(_block_lines(block, len(block.data), self.n, self.cap, backwards=True))
            while len(self.recent) > self.n:
                self.recent.popleft()


def _block_lines(block: Block, pos: int, n: int, cap: int, backwards: bool = False) -> list[str]:
    """Up to `n` lines of `block` starting at data position `pos` (a line start), or with `backwards`
    ending just before it; in file order."""
    data, raws = block.data, list[bytes]()
    if backwards:
        end = pos - 1
        while len(raws) < n and end >= 0:
            begin = data.rfind(b"\n", 0, end) + 1
            raws.append(data[begin:end])
            end = begin - 1
        raws.reverse()
    else:
        while len(raws) < n and pos < len(data):
            stop = data.find(b"\n", pos)
            raws.append(data[pos:stop])
            pos = stop + 1
    return [decode_capped(raw, cap, block.overflowed)[0] for raw in raws]


class Search:
    """One search over a log's files; `step()` scans one block and returns the objects to send next.

    Objects are hits (`{"log", "text", "id", "level", ...}`) and notices (`{"event": "notice", ...}`); the
    caller adds progress and the final `done` object from `scanned`, `total`, `matches` and `truncated`.
    Plain files are read with `pread`, backwards for newest-first, and context lines are read around each
    hit. A gzip file can only be read forwards: newest-first keeps the last `limit` hits on the way (at
    most `limit` objects in memory) and sends them at the end of the file.
    """

    def __init__(self, log: str, files: list[LogFile], req: SearchRequest, max_line_bytes: int) -> None:
        self.log = log
        self.req = req
        self.cap = max_line_bytes
        self.matcher = Matcher(req.filter, max_line_bytes)
        self.regions = plan_regions(files, req)
        self.total = sum(r.total for r in self.regions)
        self.scanned = 0
        self.matches = 0
        self.truncated = False
        self._steps = self._run()

    @property
    def remaining(self) -> int:
        return self.req.limit - self.matches

    def step(self) -> list[dict[str, Any]] | None:
        """The next objects (possibly none); None once the search is over. Runs in a worker thread."""
        return next(self._steps, None)

    def close(self) -> None:
        self._steps.close()

    def _run(self) -> Generator[list[dict[str, Any]], None, None]:
        newest = self.req.order == "newest"
        for i, region in enumerate(self.regions):
            done = self.scanned
            try:
                if region.file.compressed:
                    complete = yield from self._gzip(region, newest)
                else:
                    complete = yield from self._plain(region, newest)
            except OSError as exc:
                yield [self._notice("unreadable", f"{region.file.label}: {exc}; the rest of it was skipped")]
                complete = True
            if complete:
                self.scanned = done + region.total
            if self.remaining <= 0:
                self.truncated = not complete or i < len(self.regions) - 1
                return

    def _plain(self, region: Region, newest: bool) -> Generator[list[dict[str, Any]], None, bool]:
        """Yields the hits of each step; returns whether the region was searched to its end."""
        f = region.file
        hi, tail = (f.size, f.rotated > 0) if region.end_max is None else (region.end_max, False)
        if region.lo >= hi:
            return True
        base = self.scanned
        line_no = 0 if not newest and region.lo == 0 else None
        steps = (backward_blocks(f.fd, region.lo, hi, self.cap, tail=tail) if newest
                 else forward_blocks(functools.partial(_pread, f.fd), region.lo, hi, self.cap, tail=tail))
        for blocks, pos in steps:
            self.scanned = base + (hi - pos if newest else pos - region.lo)
            out: list[dict[str, Any]] = []
            for block in blocks:
                hits, more = self.matcher.find(block, self.remaining, newest)
                found = [self._hit(f, block, h, n) for h, n in zip(hits, _line_numbers(block, hits, line_no),
                                                                   strict=True)]
                if self.req.context:
                    for h, hit in zip(hits, found, strict=True):
                        n = self.req.context
                        hit["context_before"] = lines_before(f.fd, block.line_start(h.start), n, self.cap)
                        hit["context_after"] = lines_after(f.fd, block.line_end(h.stop), n, self.cap, f.size,
                                                           tail=f.rotated > 0)
                out.extend(reversed(found) if newest else found)
                self.matches += len(found)
                if line_no is not None:
                    line_no += block.data.count(b"\n")
                if self.remaining <= 0:
                    yield out
                    return not more and block is blocks[-1] and pos == (region.lo if newest else hi)
            yield out
        return True

    def _gzip(self, region: Region, newest: bool) -> Generator[list[dict[str, Any]], None, bool]:
        """Yields the hits of each step; returns whether the region was searched to its end."""
        f = region.file
        reader = GzipReader(f.fd)
        window = ContextWindow(self.req.context, self.cap)
        kept: deque[dict[str, Any]] = deque()  # hits not sent yet
        line_no, matching, dropped = 0, True, False
        base = self.scanned
        for blocks, _ in forward_blocks(reader.read, 0, None, self.cap, tail=True):
            for block in blocks:
                window.complete(block)
                if matching:
                    a, b, beyond = clip(block, region.lo, region.end_max)
                    part = block.slice(a, b)
                    want = self.remaining if newest else self.remaining - len(kept)
                    hits, more = self.matcher.find(part, want, newest)
                    first_line = line_no + block.data.count(b"\n", 0, a)
                    for h, n in zip(hits, _line_numbers(part, hits, first_line), strict=True):
                        hit = self._hit(f, part, h, n)
                        if self.req.context:
                            hit["context_before"] = window.before(block, a + h.start)
                            window.after(block, a + h.stop, hit)
                        kept.append(hit)
                    if newest:
                        dropped = dropped or more or len(kept) > self.remaining
                        while len(kept) > self.remaining:
                            kept.popleft()
                    elif more or len(kept) >= self.remaining:
                        matching, dropped = False, True
                    matching = matching and not beyond
                line_no += block.data.count(b"\n")
                window.remember(block)
            self.scanned = base + min(reader.compressed_pos, f.size)
            yield [] if newest else self._ready(kept, window)
            if not matching and not window.pending:
                break
        out = list(reversed(kept) if newest else kept)
        self.matches += len(out)
        if reader.error:
            out.append(self._notice("unreadable", f"{f.label}: {reader.error}; the rest of it was skipped"))
        yield out
        return not dropped

    def _ready(self, kept: deque[dict[str, Any]], window: ContextWindow) -> list[dict[str, Any]]:
        """Oldest-first hits whose context is complete: all before the first still waiting for lines."""
        waiting = {id(h) for h in window.pending}
        out = []
        while kept and id(kept[0]) not in waiting:
            out.append(kept.popleft())
        self.matches += len(out)
        return out

    def _hit(self, f: LogFile, block: Block, h: Hit, line: int | None) -> dict[str, Any]:
        end = block.line_end(h.stop)
        hit: dict[str, Any] = {"log": self.log, "text": h.text, "id": f"{self.log}={file_id(f.head, end)}:{end}",
                               "level": h.level}
        if h.truncated:
            hit["truncated"] = True
        if f.rotated:
            hit["file"] = f.label
        if line is not None:
            hit["line"] = line
        hit["context_before"] = []
        hit["context_after"] = []
        return hit

    def _notice(self, kind: str, message: str) -> dict[str, Any]:
        return {"event": "notice", "log": self.log, "kind": kind, "message": message}


def _line_numbers(block: Block, hits: list[Hit], lines_before: int | None) -> list[int | None]:
    """1-based line numbers of `hits` (in file order) given the lines before the block, if known."""
    if lines_before is None:
        return [None] * len(hits)
    numbers: list[int | None] = []
    count, pos = lines_before, 0
    for h in hits:
        count += block.data.count(b"\n", pos, h.start)
        pos = h.start
        numbers.append(count + 1)
    return numbers


def _pread(fd: int, pos: int, size: int) -> bytes:
    return os.pread(fd, size, pos)
