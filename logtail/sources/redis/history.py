"""Search and download of a shipped log: over what its Redis stream retains (the host's files are out of
reach of a web node).

Search takes the same parameters as a file's search and answers in the same NDJSON: hits with context and
ids (usable as `before`/`after` and as `Last-Event-ID`), progress, and a final `done`. `scanned` and `total`
count stream entries instead of bytes. Download is the retained lines as text, oldest first.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

from logtail.core.cursor import Cursor
from logtail.core.fileresponse import TextDownload
from logtail.core.frames import Line
from logtail.core.rawresponse import Transfers
from logtail.sources.base import SearchRequest
from logtail.sources.hits import InOrderSearch
from logtail.sources.redis import keys
from logtail.sources.redis.client import read_range, read_reverse
from logtail.sources.redis.discovery import ShippedLog, ShippedLogs

READ_COUNT = 500  # entries per XRANGE


class ShippedDownload(TextDownload):
    def __init__(self, shipped: ShippedLogs, log: ShippedLog, transfers: Transfers) -> None:
        super().__init__(log.name, transfers)
        self.shipped = shipped
        self.log = log

    async def batches(self) -> AsyncIterator[list[str]]:
        async for entries in _entries(self.shipped, self.log.key, "-", "+", newest=False):
            yield [line.text for e in entries for line in e.lines(self.log.name)]


class ShippedSearch(InOrderSearch):
    def __init__(self, shipped: ShippedLogs, log: ShippedLog, req: SearchRequest, transfers: Transfers) -> None:
        super().__init__(req, transfers)
        self.shipped = shipped
        self.log = log

    async def prepare(self) -> None:
        self.total = int(await self.shipped.client.xlen(self.log.key))

    async def batches(self) -> AsyncGenerator[tuple[int, list[Line]], None]:
        req, newest = self.req, self.req.order == "newest"
        # Both ends inclusive: the entry of a cursor may hold lines on either side of it (see _in_range).
        low, high = _bound(req.after, "-"), _bound(req.before, "+")
        async for entries in _entries(self.shipped, self.log.key, low, high, newest):
            # Entries come in search order; so must the lines inside each entry.
            yield len(entries), [line for e in entries
                                 for line in (reversed if newest else iter)(_in_range(e, self.log, req))]


def _bound(cursor: Cursor | None, default: str) -> str:
    where = keys.entry_of_cursor(cursor.fid, cursor.offset) if cursor is not None else None
    return default if where is None else where[0]


def _in_range(entry: keys.Entry, log: ShippedLog, req: SearchRequest) -> list[Line]:
    """The entry's lines strictly between `after` and `before` (an entry may hold both ends)."""
    lines = entry.lines(log.name, parser=log.parser)
    first, last = 1, len(lines) + 1
    after = keys.entry_of_cursor(req.after.fid, req.after.offset) if req.after is not None else None
    before = keys.entry_of_cursor(req.before.fid, req.before.offset) if req.before is not None else None
    if after is not None and after[0] == entry.id:
        first = after[1] + 1
    if before is not None and before[0] == entry.id:
        last = before[1]
    return lines[first - 1:last - 1]


async def _entries(shipped: ShippedLogs, key: str, low: str, high: str, newest: bool
                   ) -> AsyncIterator[list[keys.Entry]]:
    """The entries between `low` and `high`, a batch at a time, newest or oldest first."""
    while True:
        if newest:
            batch = await read_reverse(shipped.client, key, high, low, READ_COUNT)
        else:
            batch = await read_range(shipped.client, key, low, high, READ_COUNT)
        if not batch:
            return
        yield batch
        if len(batch) < READ_COUNT:
            return
        if newest:
            high = "(" + batch[-1].id
        else:
            low = "(" + batch[-1].id
