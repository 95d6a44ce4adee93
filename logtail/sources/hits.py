"""A search over lines read in order, newest or oldest first: its hits, each with its lines of context, and
its NDJSON answer.

For sources whose lines are read as a sequence (Redis entries, journal entries) rather than as byte ranges of
files (sources/files/search.py finds context in the file itself). The answer is a file search's: hits with
context and ids, progress, and a final `done`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncGenerator, Iterator
from contextlib import aclosing
from typing import Any

from starlette.types import Scope

from logtail.core.fileresponse import FileStreamResponse
from logtail.core.frames import Line, dump_json
from logtail.core.rawresponse import Transfers
from logtail.sources.base import PROGRESS_INTERVAL, SearchRequest

HEADERS = [(b"content-type", b"application/x-ndjson"), (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]


class Matches:
    """Hits with their context lines, from lines given in search order (newest first or oldest first)."""

    def __init__(self, req: SearchRequest) -> None:
        self.req = req
        self.newest = req.order == "newest"
        self.seen: deque[str] = deque(maxlen=req.context)  # the last lines in search order
        self.open: list[tuple[dict[str, Any], list[str], list[str]]] = []  # hit, lines before and after it
        self.matches = 0

    @property
    def full(self) -> bool:
        return self.matches >= self.req.limit

    def feed(self, lines: list[Line]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for line in lines:
            for _hit, _earlier, later in self.open:
                later.append(line.text)
            if not self.full and self.req.filter.matches(line.text, line.level, parse=line.fields_of):
                self.matches += 1
                self.open.append((dict(line.record()), list(self.seen), []))
            out += self._complete()
            self.seen.append(line.text)
        return out

    def _complete(self, everything: bool = False) -> list[dict[str, Any]]:
        context = self.req.context
        ready = [x for x in self.open if everything or len(x[2]) >= context]
        self.open = [x for x in self.open if not everything and len(x[2]) < context]
        return [self._shape(*x) for x in ready]

    def _shape(self, hit: dict[str, Any], earlier: list[str], later: list[str]) -> dict[str, Any]:
        # Context is given in file order whatever the search order.
        if self.newest:
            earlier, later = list(reversed(later)), list(reversed(earlier))
        hit["context_before"], hit["context_after"] = earlier, later
        return hit

    def finish(self) -> Iterator[dict[str, Any]]:
        return iter(self._complete(everything=True))


class InOrderSearch(FileStreamResponse):
    """The answer to a search: a source says how its lines are read (`batches`) and, where it knows, how many
    entries the search may scan (`total`, else null in the progress and `done` events)."""

    def __init__(self, req: SearchRequest, transfers: Transfers) -> None:
        super().__init__(transfers)
        self.req = req
        self.total: int | None = None

    async def prepare(self) -> None:
        """What must be known before the answer starts (it may still fail as a whole)."""

    def batches(self) -> AsyncGenerator[tuple[int, list[Line]], None]:
        """The lines in search order, a batch at a time, each with the number of entries it scanned."""
        raise NotImplementedError

    async def respond(self, scope: Scope) -> None:
        await self.prepare()
        await self.send_start(200, HEADERS)
        matcher = Matches(self.req)
        scanned, last_progress = 0, time.monotonic()
        async with aclosing(self.batches()) as batches:  # stops the reading (journalctl) when the search ends early
            async for count, lines in batches:
                self.check_client()
                scanned += count
                data = b"".join(dump_json(obj) + b"\n" for obj in matcher.feed(lines))
                if time.monotonic() - last_progress >= PROGRESS_INTERVAL:
                    last_progress = time.monotonic()
                    data += dump_json({"event": "progress", "scanned": scanned, "total": self.total}) + b"\n"
                if data:
                    await self.send_body(data)
                if matcher.full:
                    break
        tail = b"".join(dump_json(obj) + b"\n" for obj in matcher.finish())
        done = {"event": "done", "matches": matcher.matches, "scanned": scanned, "total": self.total,
                "truncated": matcher.full and (self.total is None or scanned < self.total)}
        await self.send_body(tail + dump_json(done) + b"\n", more=False)
