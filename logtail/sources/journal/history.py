"""Search and download of a journal log: over the entries the journal retains, read by journalctl.

Search takes the same parameters as a file's search and answers in the same NDJSON: hits with context and
ids (usable as `before`/`after` and as `Last-Event-ID`), progress, and a final `done`. `scanned` counts
entries, and `total` is null: the journal does not say how many entries match without reading them all.
Newest first is journalctl's `--reverse`; `before`/`after` are positions given to it as cursors. Download
is the log's entries as text (each MESSAGE, cut like a followed line), oldest first.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from typing import TYPE_CHECKING

from logtail.core.fileresponse import TextDownload
from logtail.core.frames import Line
from logtail.core.rawresponse import Transfers
from logtail.sources.base import SearchRequest
from logtail.sources.hits import InOrderSearch
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


class JournalSearch(InOrderSearch):
    def __init__(self, source: JournalSource, name: str, req: SearchRequest, transfers: Transfers) -> None:
        super().__init__(req, transfers)
        self.source = source
        self.name = name
        newest = req.order == "newest"
        self.start, self.stop = (req.before, req.after) if newest else (req.after, req.before)
        self.start_place: Place | None = None  # the journal's positions of those cursors (`prepare`)
        self.stop_place: Place | None = None

    async def prepare(self) -> None:
        self.start_place = await self.source.place_of(self.start) if self.start is not None else None
        self.stop_place = await self.source.place_of(self.stop) if self.stop is not None else None

    async def batches(self) -> AsyncGenerator[tuple[int, list[Line]], None]:
        newest = self.req.order == "newest"
        entries = _entries(self.source, self.name, ["--reverse"] if newest else [], self.start_place,
                           _beyond(self.stop_place, newest))
        async with aclosing(entries):
            async for lines in entries:
                yield len(lines), list(lines)


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

