"""The one interface every log source implements, and the values that cross it.

A source owns some logs (local files, the streams other hosts ship to Redis, the journal, ...) and does for
them everything the rest of logtail needs: list them, follow them into the hub, read them back after a
position (resume and catch-up, through `core.catchup.Backfill`), find the position for a moment (`since=`),
search and download what it retains. The web layer and the core know sources only through `Source`; a source
is one subpackage of `logtail.sources` and one line in `catalog.FACTORIES`.

What a source cannot do for a log (the rotated files of a log on another host are on that host) it says by
raising `Unavailable`, which the client gets as a 4xx naming the reason: never an empty 200.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from prometheus_client.registry import Collector
from starlette.responses import Response

from logtail.core.catchup import Reading
from logtail.core.cursor import Cursor
from logtail.core.frames import Format, Line, NoticeKind
from logtail.core.hub import Channel
from logtail.core.rawresponse import Transfers
from logtail.core.supervised import supervised
from logtail.match.filters import LineFilter

log = logging.getLogger(__name__)

MAX_LIMIT = 10_000  # matches per search request at most
DEFAULT_LIMIT = 100
MAX_CONTEXT = 50  # lines of context around a match at most
PROGRESS_INTERVAL = 0.25  # seconds between a search's progress objects
Order = Literal["newest", "oldest"]


@dataclass(frozen=True)
class LogInfo:
    name: str
    path: str  # where it is read from: a file, or the host's path of a shipped log
    size: int  # bytes the source retains of it
    exists: bool  # the log can be read now (a configured file may not exist yet)
    mtime: float | None  # when it was last written, as far as the source knows
    host: str | None = None  # the host it comes from, for logs of other hosts


@dataclass(frozen=True)
class RotatedFile:
    name: str
    rotated: int
    compressed: bool
    size: int
    mtime: float


@dataclass(frozen=True)
class Start:
    """Where `since=` starts a log: a position, read on from as a resume would be."""

    cursor: Cursor
    sibling_start: bool = False  # from the very first line of a rotated sibling, never the current file


@dataclass(frozen=True)
class SearchRequest:
    filter: LineFilter
    order: Order = "newest"
    limit: int = DEFAULT_LIMIT
    context: int = 0
    before: Cursor | None = None
    after: Cursor | None = None
    rotated: bool = False


@dataclass(frozen=True)
class DownloadRequest:
    rotated: int | None = None  # a rotated file NAME.N instead of the log itself
    range: str | None = None  # the Range header
    if_range: str | None = None  # the If-Range header


class Unavailable(Exception):
    """What a source cannot do for one of its logs; the client gets `status` and this message."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class Source(Protocol):
    def __contains__(self, name: str) -> bool:
        """Whether `name` is one of this source's logs."""

    def names(self) -> list[str]:
        """The names of this source's logs now."""

    async def logs(self) -> list[LogInfo]:
        """Every log of this source, with what is known of it now."""

    async def run(self) -> None:
        """Follow the logs and publish their lines into the hub until cancelled."""

    async def close(self) -> None:
        """Free what the source holds (descriptors, connections); called once, after `run` ended."""

    async def read_after(self, ch: Channel, cursor: Cursor, fmt: Format, sibling_start: bool) -> Reading:
        """The lines of `ch` after `cursor`, up to the hub's position at the call, taken before any await
        (resume and catch-up); files are opened off the event loop."""

    async def since(self, ch: Channel, moment: float, client: str = "") -> Start | None:
        """Where a stream from `moment` starts, or None to start live; heavy work is `client`'s, bounded per
        client (core.offloop.HEAVY)."""

    async def rotated(self, name: str) -> list[RotatedFile]:
        """The rotated files of a log, oldest number first."""

    async def download(self, name: str, request: DownloadRequest, transfers: Transfers) -> Response:
        """A response with what the source retains of a log, as text (or one rotated file)."""

    def search(self, name: str, request: SearchRequest, transfers: Transfers) -> Response:
        """An NDJSON response with the matches of a search over what the source retains of a log."""

    def collectors(self) -> list[Collector]:
        """Prometheus collectors of the source's own state (e.g. outages of its connection)."""

    def unready(self) -> str | None:
        """Why the source cannot serve its logs now (/readyz answers 503 with it), or None."""

    async def started(self, names: Sequence[str]) -> None:
        """Return once each of `names` that is this source's has its window and position (a stream's backlog
        and resume are taken from them), or after a bounded wait; at once for a source that has them from
        the start."""

    def opening_notice(self, name: str) -> tuple[NoticeKind, str] | None:
        """What a client that opens a stream of `name` must hear at once (e.g. the source is unreachable)."""

    def entry_time(self, line: Line) -> float | None:
        """When the source stored `line` (seconds since the epoch), if it records that: a shipped line's Redis
        entry time. None: only the line's own text can tell (the multi-log backlog's order, web/interleave.py)."""

    async def hosts(self) -> list[dict[str, Any]]:
        """The hosts this source's logs come from, with their state (/api/hosts); Unavailable if unknown now."""


class Sources:
    """Every source of a node; a log's name belongs to one of them."""

    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources
        self.stopped: list[str] = []  # why sources stopped following their logs, for /readyz

    def __iter__(self) -> Iterator[Source]:
        return iter(self.sources)

    def __contains__(self, name: str) -> bool:
        return self.find(name) is not None

    def find(self, name: str) -> Source | None:
        return next((source for source in self.sources if name in source), None)

    def names(self) -> list[str]:
        return [name for source in self.sources for name in source.names()]

    async def logs(self) -> list[LogInfo]:
        found = await asyncio.gather(*(source.logs() for source in self.sources))
        return [info for infos in found for info in infos]

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for source in self.sources:
                group.create_task(self._run(source), name=type(source).__name__)

    async def _run(self, source: Source) -> None:
        # A source that fails must not stop the others, as the task group would: core/supervised.py.
        await supervised(source.run(), type(source).__name__, self.stopped)

    async def close(self) -> None:
        for source in self.sources:
            await source.close()

    def collectors(self) -> list[Collector]:
        return [c for source in self.sources for c in source.collectors()]

    async def started(self, names: Sequence[str]) -> None:
        # One after the other: a source with nothing to wait for returns at once, without a task or a turn
        # of the event loop (every stream opening passes here).
        for source in self.sources:
            await source.started(names)

    def unready(self) -> str | None:
        reasons = (why for source in self.sources if (why := source.unready()) is not None)
        return next(iter(self.stopped), None) or next(reasons, None)

    async def hosts(self) -> list[dict[str, Any]]:
        return [host for source in self.sources for host in await source.hosts()]

    def entry_time(self, line: Line) -> float | None:
        source = self.find(line.log)
        return None if source is None else source.entry_time(line)
