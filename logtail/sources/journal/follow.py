"""Following a journal log: a supervised `journalctl --follow --output=export` publishing into the hub.

One child per journal log, with the log's matches, so journalctl does the filtering in C. The first run
starts with the log's last `window_lines` entries (the window's backlog, as a file's last lines seed it);
every later run continues after the last entry published, so a child that dies (killed, journal
unreadable for a while) is restarted with backoff and nothing is lost or repeated. Before its first entry a
log's position is the journal's last entry at start, whatever it matched: a resume from there reads the
log's entries after it.

Positions are given to journalctl as partial cursors (`s=<seqnum id>;i=<seqnum>`, ids.py) with `--cursor`,
not `--after-cursor`: the latter skips the first entry it lands on even when the cursor's own entry was
vacuumed (or is not one of the log's), losing an entry; with `--cursor` the entry itself, when it is there,
is dropped here by its number.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from logtail.core.cursor import Cursor
from logtail.core.offloop import off_loop
from logtail.core.sink import Sink
from logtail.sources.journal.block import JournalBlock
from logtail.sources.journal.entry import JournalLine
from logtail.sources.journal.export import ExportReader
from logtail.sources.journal.ids import SeqnumIds, fid_of, parse_journal_cursor, partial_cursor
from logtail.sources.journal.process import Journalctl, run_journalctl

log = logging.getLogger(__name__)

OFF_LOOP_BYTES = 64 << 10  # a bigger read of journalctl's output is parsed in a worker thread
# A longer entry is skipped: this allows binary messages of several MiB before their cut at --max-line-bytes.
MAX_ENTRY_BYTES = 64 << 20
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 30.0
HEALTHY_RUN = 10.0  # seconds a child must have run for its next restart to start from the first backoff


@dataclass(frozen=True)
class Place:
    """After which entry of the journal a log goes on: (seqnum id, seqnum)."""

    seqnum_id: str
    seqnum: int

    def cursor(self, log: str) -> Cursor:
        return Cursor(log, fid_of(self.seqnum_id), self.seqnum)

    def args(self) -> list[str]:
        return [f"--cursor={partial_cursor(self.seqnum_id, self.seqnum)}"]

    def keeps(self, line: JournalLine) -> bool:
        """Whether `line` is after this place (the cursor's own entry, and any before it, are not)."""
        return self.keeps_entry(line.seqnum_id, line.end)

    def keeps_entry(self, seqnum_id: str, seqnum: int) -> bool:
        return seqnum_id != self.seqnum_id or seqnum > self.seqnum


OUTPUT = ["--output=export"]  # journalctl's cheapest output that has every field (export.py says why)


async def entry_blocks(child: Journalctl, name: str, cap: int) -> AsyncIterator[JournalBlock]:
    """The lines of journalctl's output, as many as each read brought; a big read is parsed in a worker
    thread (~6 µs an entry, bench/RESULTS.md)."""
    reader = ExportReader(name, MAX_ENTRY_BYTES)
    async for chunk in child.chunks():
        if len(chunk) > OFF_LOOP_BYTES:
            block = await off_loop(_parse, reader, name, chunk, cap)
        else:
            block = _parse(reader, name, chunk, cap)
        if block.count:
            yield block


async def entry_batches(child: Journalctl, name: str, cap: int) -> AsyncIterator[list[JournalLine]]:
    """The same, as lists of lines."""
    async for block in entry_blocks(child, name, cap):
        yield block.journal_lines()


def _parse(reader: ExportReader, name: str, chunk: bytes, cap: int) -> JournalBlock:
    return JournalBlock.of_batch(name, reader.read(chunk), cap)


async def last_entry(base: Sequence[str], matches: Sequence[str] = ()) -> Place | None:
    """The journal's last entry (of those matching `matches`), or None when there is none."""
    out = await run_journalctl([*base, *OUTPUT, "--lines=1", *matches])
    for entry in ExportReader("journal", MAX_ENTRY_BYTES).feed(out):
        cursor = entry.get("__CURSOR")
        where = parse_journal_cursor(cursor) if isinstance(cursor, str) else None
        if where is not None:
            return Place(*where)
    return None


class JournalFollower:
    """One journal log followed into a sink, its journalctl restarted with backoff when it ends."""

    def __init__(self, name: str, base: Sequence[str], matches: Sequence[str], ids: SeqnumIds, *,
                 window_lines: int, max_line_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.base = list(base)
        self.matches = list(matches)
        self.ids = ids
        self.window_lines = window_lines
        self.max_line_bytes = max_line_bytes
        self.clock = clock
        self.place: Place | None = None  # after the last entry published (or the journal's tail at start)
        self.ready = asyncio.Event()  # set once the window is seeded (or resumed): streams wait for it
        self.restarts = 0
        self.child: Journalctl | None = None  # the running journalctl (tests kill it)
        self.last_write: float | None = None  # the time of the last entry published (seconds since the epoch)
        # Awaited after each publish (a shipper stores what was published): meanwhile nothing is read, so
        # journalctl blocks on its full pipe and the journal itself is the buffer.
        self.gate: Callable[[], Awaitable[None]] | None = None

    def resume(self, place: Place | None) -> None:
        """Go on after `place` (None: from the journal's first entry) instead of seeding a window (a shipper
        continuing after the last entry it stored)."""
        self.place = place
        self.ready.set()

    def _args(self) -> list[str]:
        # After the last entry published; with none, the journal was empty at start: all it holds is new.
        # (`--merge`: on a journal with no entries, journalctl 252 --follow fails with "Data from the
        # specified boot (+0) is not available" unless told to merge journals, which has no boot to pick.)
        where = self.place.args() if self.place is not None else ["--lines=all", "--merge"]
        return [*self.base, "--follow", *OUTPUT, *where, *self.matches]

    async def run(self, sink: Sink) -> None:
        """Follow until cancelled."""
        sink.add(self.name)
        if not self.ready.is_set():
            await self._seed(sink)
            self.ready.set()
        delay = BACKOFF_FIRST
        while True:
            began = self.clock()
            rc = await self._run_once(sink)
            if self.clock() - began >= HEALTHY_RUN:
                delay = BACKOFF_FIRST
            self.restarts += 1
            log.warning("%s: journalctl ended (exit status %s); starting it again in %.1f s", self.name, rc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)

    async def _seed(self, sink: Sink) -> None:
        """The window's backlog: the log's last entries up to the journal's last entry now, which is where
        following goes on from."""
        tail = await last_entry(self.base)
        if tail is None:
            return
        self.ids.learn(tail.seqnum_id)
        async for lines in read_entries(self.base, [f"--lines={self.window_lines}", *self.matches], self.name,
                                        self.max_line_bytes):
            # Entries that came after `tail` meanwhile are left to the follower, which starts there.
            kept = [line for line in lines if line.seqnum_id != tail.seqnum_id or line.end <= tail.seqnum]
            self._publish(sink, JournalBlock.of_lines(self.name, kept))
            if self.gate is not None:
                await self.gate()
        self.place = tail
        sink.publish(self.name, [], tail.cursor(self.name))

    async def _run_once(self, sink: Sink) -> int | None:
        args = self._args()
        async with Journalctl(args, self.name) as child:
            self.child = child
            try:
                async for block in entry_blocks(child, self.name, self.max_line_bytes):
                    self._publish(sink, block)
                    if self.gate is not None:
                        await self.gate()
            finally:
                self.child = None
        return child.returncode

    def _publish(self, sink: Sink, block: JournalBlock) -> None:
        place = self.place
        if place is not None and block.count and not place.keeps_entry(block.seqnum_ids[0], block.seqnums[0]):
            block = JournalBlock.of_lines(self.name, [line for line in block.journal_lines() if place.keeps(line)])
        if not block.count:
            return
        for seqnum_id in set(block.seqnum_ids):
            self.ids.learn(seqnum_id)
        self.place = Place(block.seqnum_ids[-1], block.seqnums[-1])
        realtime = block.last_realtime
        self.last_write = realtime / 1e6 if realtime else time.time()
        sink.publish(self.name, block, self.place.cursor(self.name))


async def read_entries(base: Sequence[str], args: Sequence[str], name: str, cap: int, place: Place | None = None,
                       stop: Callable[[JournalLine], bool] | None = None,
                       on_child: Callable[[Journalctl], None] | None = None
                       ) -> AsyncGenerator[list[JournalLine], None]:
    """The entries journalctl reads with `args` (a position and matches), without those up to `place`
    included, up to the first for which `stop` is true (included) or the journal's end. `on_child` is told
    of the journalctl, for a reader that must stop it without awaiting (`Journalctl.kill`)."""
    async with Journalctl([*base, *OUTPUT, *args], name) as child:
        if on_child is not None:
            on_child(child)
        async for lines in entry_batches(child, name, cap):
            if place is not None:
                lines = [line for line in lines if place.keeps(line)]
            if stop is not None:
                for i, line in enumerate(lines):
                    if stop(line):
                        yield lines[: i + 1]
                        return
            if lines:
                yield lines
