"""The systemd journal as a source of logs: each configured journal log (`journal`, `journal:UNIT`,
`NAME=journal:FIELD=VALUE,...`) followed into the hub, read back after an id, started at a moment, searched
and downloaded, all through journalctl (process.py says why).

Ids are entry sequence numbers (ids.py), so a client's `Last-Event-ID` survives restarts of logtail and of
journald. Where the journal no longer holds a client's position (vacuumed, rotated away, or a journal started
afresh), the client gets a `gap` notice, then every entry of the log that the journal still has after it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from prometheus_client.registry import Collector
from starlette.responses import Response

from logtail.config import Settings
from logtail.core.block import LineBlock
from logtail.core.catchup import Reading
from logtail.core.cursor import Cursor
from logtail.core.frames import Format, Line, NoticeKind, notice_frame
from logtail.core.hub import Channel, Hub
from logtail.core.rawresponse import Transfers
from logtail.core.sink import Sink
from logtail.sources.base import DownloadRequest, LogInfo, RotatedFile, SearchRequest, Start, Unavailable
from logtail.sources.journal.entry import JournalLine
from logtail.sources.journal.follow import JournalFollower, Place, last_entry, read_entries
from logtail.sources.journal.history import JournalDownload, JournalSearch
from logtail.sources.journal.ids import HEADERS_INTERVAL, SeqnumIds, fid_of
from logtail.sources.journal.process import Journalctl, journal_command

# How long a new stream waits for its log's window to be read (well under a second for --window-lines
# entries): a journal slower than that is served as it is.
SEED_WAIT = 10.0
GAP_MESSAGE = ("the position to resume from is no longer in the journal (vacuumed, rotated away or a new "
               "journal); continuing with what it retains")


@dataclass(frozen=True)
class Gap:
    """Between the lines of a read-back: the journal no longer holds the position it started from."""

    message: str = GAP_MESSAGE


@dataclass(frozen=True)
class JournalLog:
    name: str
    matches: tuple[str, ...]  # journalctl's match arguments: `--unit=UNIT` or FIELD=VALUE ...


class JournalSource:
    """Every journal log of the configuration."""

    def __init__(self, settings: Settings, sink: Sink) -> None:
        self.sink = sink
        self.directory = settings.journal_directory
        self.base = journal_command(settings.journal_directory)
        self.ids = SeqnumIds(self.base)
        self.max_line_bytes = settings.max_line_bytes
        self.resume_max_bytes = settings.resume_max_bytes
        self.journal_logs = {src.name: JournalLog(src.name, src.journal) for src in settings.sources
                     if src.journal is not None and src.name is not None}
        self.followers = {
            log.name: JournalFollower(log.name, self.base, log.matches, self.ids, window_lines=settings.window_lines,
                                      max_line_bytes=settings.max_line_bytes)
            for log in self.journal_logs.values()}

    def __contains__(self, name: str) -> bool:
        return name in self.journal_logs

    def __iter__(self) -> Iterator[JournalLog]:
        return iter(self.journal_logs.values())

    async def run(self) -> None:
        """Follow every journal log into the sink until cancelled."""
        async with asyncio.TaskGroup() as group:
            for follower in self.followers.values():
                group.create_task(follower.run(self.sink), name=f"journal {follower.name}")

    async def entries_after(self, name: str, cursor: Cursor, end: Cursor | None,
                            on_child: Callable[[Journalctl], None] | None = None
                            ) -> AsyncIterator[list[JournalLine] | Gap]:
        """The log's entries after `cursor`, up to `end` included (None: the journal's end): after a `Gap`
        when the journal no longer holds `cursor`'s entry."""
        log = self.journal_logs[name]
        place = await self.place_of(cursor)
        if place is None or await self.vacuumed(place):
            yield Gap()
            place_args: list[str] = [] if place is None else place.args()
        else:
            place_args = place.args()

        def reached(line: JournalLine) -> bool:
            return end is not None and line.fid == end.fid and line.end >= end.offset

        cut = await self._bound(log, place, end)
        if cut is not None:  # a read-back is bounded as a file's is: the newest entries are kept, and it is said
            yield Gap(f"more than {self.resume_max_bytes} bytes to read back from the journal "
                      "(--resume-max-bytes); continuing with the newest entries")
            place, place_args = cut, cut.args()
        entries = read_entries(self.base, [*place_args, *log.matches], name, self.max_line_bytes, place, reached,
                               on_child)
        async with aclosing(entries):
            async for lines in entries:
                yield lines

    async def _bound(self, log: JournalLog, place: Place | None, end: Cursor | None) -> Place | None:
        """Where a read-back after `place` up to `end` must start to be at most `resume_max_bytes`: the entry
        before the newest that fit (found reading backwards from `end`), or None when all of it fits."""
        end_place = await self.place_of(end) if end is not None else None
        budget = self.resume_max_bytes
        newest = read_entries(self.base, ["--reverse", *(end_place.args() if end_place else []), *log.matches],
                              log.name, self.max_line_bytes)
        async with aclosing(newest):
            async for lines in newest:
                for line in lines:
                    if end_place is not None and line.seqnum_id == end_place.seqnum_id and line.end > end_place.seqnum:
                        continue  # after the end (the end's own entry is journalctl's first)
                    if place is not None and not place.keeps(line):
                        return None  # back at the start: everything after it fits
                    budget -= len(line.text) + 1
                    if budget < 0:
                        return Place(line.seqnum_id, line.end)
        return None

    async def place_of(self, cursor: Cursor) -> Place | None:
        """Where `cursor` is in the journal, or None when no journal file has its sequence-number id."""
        return await self.place_of_id(cursor.fid, cursor.offset)

    async def place_of_id(self, fid: str, seqnum: int) -> Place | None:
        seqnum_id = await self.ids.find(fid)
        return Place(seqnum_id, seqnum) if seqnum_id is not None else None

    async def vacuumed(self, place: Place) -> bool:
        """Whether entries after `place` are gone: the first entry the journal still has from there on is
        further on than the next one (an entry of another journal comes next: unless the place's own journal
        is gone altogether, that is just the merged order)."""
        first = await _first(read_entries(self.base, place.args(), "journal", 1024))
        if first is None:
            return False
        if first.seqnum_id == place.seqnum_id:
            return first.end > place.seqnum + 1
        self.ids.by_fid.pop(fid_of(place.seqnum_id), None)  # asked afresh from the files' headers
        self.ids.headers_read_at = -HEADERS_INTERVAL
        return await self.ids.find(fid_of(place.seqnum_id)) is None

    async def start_at(self, name: str, moment: float) -> Cursor | None:
        """The position just before the log's first entry at or after `moment` (seconds since the epoch),
        found by the journal's own time index; None when it has no such entry yet."""
        log = self.journal_logs[name]
        first = await _first(read_entries(self.base, [f"--since=@{moment:.6f}", *log.matches], name, 1024))
        if first is None:
            return None
        self.ids.learn(first.seqnum_id)  # the read-back from there finds it without asking the headers
        return Cursor(name, first.fid, first.end - 1)

    async def tail(self, name: str) -> Cursor | None:
        """The position after the log's last entry now."""
        place = await last_entry(self.base, self.journal_logs[name].matches)
        return place.cursor(name) if place is not None else None


    # --- the Source interface (sources/base.py) ---------------------------------------------------------

    async def logs(self) -> list[LogInfo]:
        where = self.directory or "the system journal"
        # Size 0: journalctl does not tell how much of the journal one log's entries take.
        return [LogInfo(log.name, f"journal:{' '.join(log.matches) or '(all)'} in {where}", 0, True,
                        self.followers[log.name].last_write) for log in self.journal_logs.values()]

    async def close(self) -> None:
        pass  # every journalctl is ended by the task that started it

    async def read_after(self, ch: Channel, cursor: Cursor, fmt: Format, sibling_start: bool) -> Reading:
        if ch.position is None:
            return Reading(cursor)
        children: list[Journalctl] = []

        def close() -> None:
            for child in children:
                child.kill()

        return Reading(ch.position, self._frames(ch.name, cursor, ch.position, fmt, children.append), close=close)

    async def _frames(self, name: str, cursor: Cursor, end: Cursor, fmt: Format,
                      on_child: Callable[[Journalctl], None]) -> AsyncIterator[list[Line] | LineBlock | bytes]:
        async for item in self.entries_after(name, cursor, end, on_child):
            yield notice_frame(fmt, name, "gap", item.message) if isinstance(item, Gap) else list[Line](item)

    async def since(self, ch: Channel, moment: float, client: str = "") -> Start | None:
        cursor = await self.start_at(ch.name, moment)
        if cursor is None:  # nothing at or after the moment yet: the stream starts live
            return None if ch.position is None else Start(ch.position)
        return Start(cursor)

    async def rotated(self, name: str) -> list[RotatedFile]:
        raise Unavailable(404, f"{name!r} is a journal log: it has no rotated files (its download and search "
                               "cover every entry the journal retains)")

    async def download(self, name: str, request: DownloadRequest, transfers: Transfers) -> Response:
        if request.rotated is not None:
            await self.rotated(name)
        return JournalDownload(self, name, transfers)

    def search(self, name: str, request: SearchRequest, transfers: Transfers) -> Response:
        return JournalSearch(self, name, request, transfers)

    def collectors(self) -> list[Collector]:
        return []

    def names(self) -> list[str]:
        return list(self.journal_logs)

    def unready(self) -> str | None:
        # Not ready until every log's window is read (new streams wait for it: `started`). The reason names no
        # log: /readyz answers anyone. A journalctl that dies later is restarted, and its log's clients are
        # told (notices).
        seeding = any(not follower.ready.is_set() for follower in self.followers.values())
        return "journal logs: reading their last entries" if seeding else None

    async def started(self, names: Sequence[str]) -> None:
        # A stream opened before its log's window is read would take an empty backlog, and a resume would
        # find no position to read back to: the window's lines would come as live ones, past the backlog asked
        # for, and a resume would lose what came before them.
        waits = [follower.ready.wait() for name in names
                 if (follower := self.followers.get(name)) is not None and not follower.ready.is_set()]
        if waits:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SEED_WAIT):
                    await asyncio.gather(*waits)

    def entry_time(self, line: Line) -> float | None:
        return None  # the hub's lines carry no entry time: the line's own timestamp orders it

    def opening_notice(self, name: str) -> tuple[NoticeKind, str] | None:
        return None

    async def hosts(self) -> list[dict[str, Any]]:
        return []  # this host's journal (or files copied from one): the node that serves it


async def _first(entries: AsyncGenerator[list[JournalLine], None]) -> JournalLine | None:
    """The first entry of a reading, whose journalctl is then stopped."""
    async with aclosing(entries):
        async for lines in entries:
            return lines[0]
    return None


def configure(settings: Settings, hub: Hub) -> JournalSource | None:
    """The journal logs of the configuration, when it has any."""
    return JournalSource(settings, hub) if any(src.journal is not None for src in settings.sources) else None
