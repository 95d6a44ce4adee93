"""Search and download of a journal log: over the entries the journal retains, read by journalctl.

Search takes the same parameters as a file's search and answers in the same NDJSON: hits with context and
ids (usable as `before`/`after` and as `Last-Event-ID`), progress, and a final `done`. `scanned` counts
entries, and `total` is null: the journal does not say how many entries match without reading them all.
Newest first is journalctl's `--reverse`; `before`/`after` are positions given to it as cursors. Download
is the log's entries as text (each MESSAGE, cut like a followed line), oldest first.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from typing import TYPE_CHECKING

from starlette.types import Scope

from logtail.core.fileresponse import FileStreamResponse, TextDownload
from logtail.core.frames import dump_json
from logtail.core.rawresponse import Transfers
from logtail.sources.base import PROGRESS_INTERVAL, SearchRequest
from logtail.sources.hits import Matches
from logtail.sources.journal.entry import JournalLine
from logtail.sources.journal.follow import OUTPUT, Place, entry_batches
from logtail.sources.journal.process import Journalctl

if TYPE_CHECKING:
    from logtail.sources.journal.source import JournalSource


class JournalDownload(TextDownload):
    def __init__(self, source: JournalSource, name: str, transfers: Transfers) -> None:
        super().__init__(name, transfers)
        self.source = source

    async def batches(self) -> AsyncIterator[list[str]]:
        async with aclosing(_entries(self.source, self.name, [], None, None)) as entries:
            async for lines in entries:
                yield [line.text for line in lines]


class JournalSearch(FileStreamResponse):
    def __init__(self, source: JournalSource, name: str, req: SearchRequest, transfers: Transfers) -> None:
        super().__init__(transfers)
        self.source = source
        self.name = name
        self.req = req

    async def respond(self, scope: Scope) -> None:
        req = self.req
        newest = req.order == "newest"
        start, stop = (req.before, req.after) if newest else (req.after, req.before)
        start_place = await self.source.place_of(start) if start is not None else None
        stop_place = await self.source.place_of(stop) if stop is not None else None
        await self.send_start(200, [(b"content-type", b"application/x-ndjson"), (b"cache-control", b"no-cache"),
                                    (b"x-accel-buffering", b"no")])
        matcher = Matches(req)
        scanned, last_progress = 0, time.monotonic()
        entries = _entries(self.source, self.name, ["--reverse"] if newest else [], start_place,
                           _beyond(stop_place, newest))
        async with aclosing(entries):  # stops journalctl when the search ends early
            async for lines in entries:
                self.check_client()
                scanned += len(lines)
                data = b"".join(dump_json(obj) + b"\n" for obj in matcher.feed(list(lines)))
                if time.monotonic() - last_progress >= PROGRESS_INTERVAL:
                    last_progress = time.monotonic()
                    data += dump_json({"event": "progress", "scanned": scanned, "total": None}) + b"\n"
                if data:
                    await self.send_body(data)
                if matcher.full:
                    break
        tail = b"".join(dump_json(obj) + b"\n" for obj in matcher.finish())
        done = {"event": "done", "matches": matcher.matches, "scanned": scanned, "total": None,
                "truncated": matcher.full}
        await self.send_body(tail + dump_json(done) + b"\n", more=False)


def _beyond(place: Place | None, newest: bool) -> Callable[[JournalLine], bool] | None:
    """Whether a line is at or past the search's far bound (excluded, as a file search excludes it)."""
    if place is None:
        return None
    if newest:
        return lambda line: line.seqnum_id == place.seqnum_id and line.end <= place.seqnum
    return lambda line: line.seqnum_id == place.seqnum_id and line.end >= place.seqnum


async def _entries(source: JournalSource, name: str, order: list[str], start: Place | None,
                   beyond: Callable[[JournalLine], bool] | None) -> AsyncGenerator[list[JournalLine], None]:
    """The log's entries from `start` (excluded) in journalctl's order, until one is `beyond` the far end."""
    log = source.journal_logs[name]
    where = start.args() if start is not None else []
    newest = bool(order)
    async with Journalctl([*source.base, *OUTPUT, *order, *where, *log.matches], name) as child:
        async for lines in entry_batches(child, name, source.max_line_bytes):
            if start is not None:
                lines = [line for line in lines if _after_start(line, start, newest)]
            if beyond is not None:
                cut = next((i for i, line in enumerate(lines) if beyond(line)), None)
                if cut is not None:
                    if cut:
                        yield lines[:cut]
                    return
            if lines:
                yield lines


def _after_start(line: JournalLine, start: Place, newest: bool) -> bool:
    if line.seqnum_id != start.seqnum_id:
        return True
    return line.end < start.seqnum if newest else line.end > start.seqnum

