"""The search engine over a log's files, and the NDJSON response that runs it.

`Search.step()` does one bounded piece of work (a block) and is called through `off_loop`, so a request can
stop between any two blocks.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NotRequired, TypedDict

from starlette.types import Scope

from logtail.core.cursor import cursor_text, file_id
from logtail.core.fileresponse import FileStreamResponse
from logtail.core.frames import LineRecord, NoticeKind, NoticeRecord, dump_json, notice_frame, notice_record
from logtail.core.lines import decode_capped
from logtail.core.offloop import HEAVY, off_loop
from logtail.core.rawresponse import Transfers
from logtail.match.parsers import Parser
from logtail.sources.base import PROGRESS_INTERVAL, SearchRequest
from logtail.sources.files.prefilter import Hit, Matcher
from logtail.sources.files.regions import CursorNotFound, Region, plan_regions
from logtail.sources.files.scan import Block, backward_blocks, clip, forward_blocks, lines_after, lines_before
from logtail.sources.files.siblings import GzipReader, LogFile, open_chain


class SearchHit(LineRecord):
    """A matching line: a stream's line, plus where it is and the lines around it."""

    file: NotRequired[str]  # the rotated file's name; absent for the live file
    line: NotRequired[int]  # 1-based line number, when known (the file was read from its start)
    context_before: list[str]
    context_after: list[str]


class SearchProgress(TypedDict):
    event: Literal["progress"]
    scanned: int  # bytes searched so far, of `total`
    total: int


class SearchDone(TypedDict):
    event: Literal["done"]
    matches: int
    scanned: int
    total: int
    truncated: bool  # the limit was reached with more of the files left: page on with before/after


SearchObject = SearchHit | NoticeRecord


@dataclass
class ContextWindow:
    """Context lines for a sequential (gzip) scan: the last `n` lines seen, and hits awaiting lines after."""

    n: int
    cap: int
    recent: deque[str] = field(default_factory=deque)
    pending: list[SearchHit] = field(default_factory=list)

    def before(self, block: Block, start: int) -> list[str]:
        lines = _block_lines(block, start, self.n, self.cap, backwards=True)
        need = self.n - len(lines)
        return (list(self.recent)[max(0, len(self.recent) - need):] if need else []) + lines

    def after(self, block: Block, stop: int, hit: SearchHit) -> None:
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

    def __init__(self, log: str, files: list[LogFile], req: SearchRequest, max_line_bytes: int,
                 parser: Parser | None = None) -> None:
        self.log = log
        self.req = req
        self.cap = max_line_bytes
        self.matcher = Matcher(req.filter, max_line_bytes, parser)
        self.regions = plan_regions(files, req)
        self.total = sum(r.total for r in self.regions)
        self.scanned = 0
        self.matches = 0
        self.truncated = False
        self._steps = self._run()

    @property
    def remaining(self) -> int:
        return self.req.limit - self.matches

    def step(self) -> list[SearchObject] | None:
        """The next objects (possibly none); None once the search is over. Runs in a worker thread."""
        return next(self._steps, None)

    def close(self) -> None:
        self._steps.close()

    def _run(self) -> Generator[list[SearchObject], None, None]:
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

    def _plain(self, region: Region, newest: bool) -> Generator[list[SearchObject], None, bool]:
        """Yields the hits of each step; returns whether the region was searched to its end."""
        f = region.file
        hi, tail = (f.size, f.rotated > 0) if region.end_max is None else (region.end_max, False)
        if region.lo >= hi:
            return True
        base = self.scanned
        line_no = 0 if not newest and region.lo == 0 else None
        steps = (backward_blocks(f.fd, region.lo, hi, self.cap, tail=tail) if newest
                 else forward_blocks(f.pread, region.lo, hi, self.cap, tail=tail))
        for blocks, pos in steps:
            self.scanned = base + (hi - pos if newest else pos - region.lo)
            out: list[SearchObject] = []
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

    def _gzip(self, region: Region, newest: bool) -> Generator[list[SearchObject], None, bool]:
        """Yields the hits of each step; returns whether the region was searched to its end."""
        f = region.file
        reader = GzipReader(f.fd)
        window = ContextWindow(self.req.context, self.cap)
        kept: deque[SearchHit] = deque()  # hits not sent yet
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
        out: list[SearchObject] = list(reversed(kept) if newest else kept)
        self.matches += len(out)
        if reader.error:
            out.append(self._notice("unreadable", f"{f.label}: {reader.error}; the rest of it was skipped"))
        yield out
        return not dropped

    def _ready(self, kept: deque[SearchHit], window: ContextWindow) -> list[SearchObject]:
        """Oldest-first hits whose context is complete: all before the first still waiting for lines."""
        waiting = {id(h) for h in window.pending}
        out: list[SearchObject] = []
        while kept and id(kept[0]) not in waiting:
            out.append(kept.popleft())
        self.matches += len(out)
        return out

    def _hit(self, f: LogFile, block: Block, h: Hit, line: int | None) -> SearchHit:
        end = block.line_end(h.stop)
        hit: SearchHit = {"log": self.log, "text": h.text, "id": cursor_text(self.log, file_id(f.head, end), end),
                          "level": h.level, "context_before": [], "context_after": []}
        if h.truncated:
            hit["truncated"] = True
        fields = None if self.matcher.parser is None else self.matcher.parser.fields(h.text)
        if fields is not None:
            hit["fields"] = fields  # as a parsed log's line events carry them
        if f.rotated:
            hit["file"] = f.label
        if line is not None:
            hit["line"] = line
        return hit

    def _notice(self, kind: NoticeKind, message: str) -> NoticeRecord:
        return notice_record(self.log, kind, message)


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


class SearchResponse(FileStreamResponse):
    """NDJSON: matches as they are found, progress at most every `PROGRESS_INTERVAL`, then `done`."""

    def __init__(self, log_name: str, path: Path, req: SearchRequest, max_line_bytes: int,
                 transfers: Transfers, parser: Parser | None = None, inside: Path | None = None) -> None:
        super().__init__(transfers)
        self.parser = parser
        self.inside = inside  # a glob match's directory: the live file must be in it (opening.py)
        self.log_name = log_name
        self.path = path
        self.req = req
        self.max_line_bytes = max_line_bytes

    async def respond(self, scope: Scope) -> None:
        req = self.req
        with_siblings = req.rotated or req.before is not None or req.after is not None
        try:
            files = await off_loop(open_chain, self.path, with_siblings, self.inside)
        except OSError as exc:
            await self.error(403 if isinstance(exc, PermissionError) else 500,
                             f"log {self.log_name!r}: cannot read the file ({exc.strerror or exc})")
            return
        search: Search | None = None
        try:
            try:
                search = await off_loop(Search, self.log_name, files, req, self.max_line_bytes, self.parser)
            except CursorNotFound as exc:
                await self.error(400, str(exc))
                return
            await self.send_start(200, [
                (b"content-type", b"application/x-ndjson"),
                (b"cache-control", b"no-cache"),
                (b"x-accel-buffering", b"no"),  # nginx: pass progress on as it comes
            ])
            if not any(f.rotated == 0 for f in files):
                await self.send_body(notice_frame("ndjson", self.log_name, "missing",
                                                  f"{self.path.name} does not exist at the moment"))
            await self._run(search, client_of(scope))
        finally:
            if search is not None:
                search.close()
            for f in files:
                f.close()

    async def _run(self, search: Search, client: str) -> None:
        last_progress = time.monotonic()
        while True:
            self.check_client()
            # A block at a time in the heavy pool, one step at a time per client: searches share it fairly
            # and never take the threads that password checks and resumes need.
            objects = await HEAVY.run(client, search.step)
            if objects is None:
                break
            data = b"".join(dump_json(obj) + b"\n" for obj in objects)
            now = time.monotonic()
            if now - last_progress >= PROGRESS_INTERVAL:
                last_progress = now
                progress: SearchProgress = {"event": "progress", "scanned": search.scanned, "total": search.total}
                data += dump_json(progress) + b"\n"
            if data:
                await self.send_body(data)
        done: SearchDone = {"event": "done", "matches": search.matches, "scanned": search.scanned,
                            "total": search.total, "truncated": search.truncated}
        await self.send_body(dump_json(done) + b"\n", more=False)


def client_of(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""
