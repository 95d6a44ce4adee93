"""Catching up: serving a lagging log from the hub's window, then from its files, at the pace the client reads.

A log of a stream lags when the client's queue overflowed (subscription.py) or when the stream was opened to
resume after a position. The client's writer calls `step()` whenever its queue has room; each step does one
bounded piece of work for one lagging log, in turn:

- its position is in the hub's window: the lines after it, as many as the queue has room for. When the
  rest of the window fits, the log rejoins the live stream in that same step of the event loop: the window
  holds every line published so far and the hub queues every later one, so nothing is lost or repeated.
- otherwise: a read-back from where the log's source keeps it (its files, Redis, ...), planned by the source
  up to the hub's position at that moment and read one block per step. When it is done, the position is the
  reading's end, and the window is next.

Memory per lagging client is its queue plus one read block: the window's lines are shared with the hub.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from typing import Protocol

from logtail.core.block import LineBlock, position_of
from logtail.core.cursor import Cursor
from logtail.core.frames import Format, Line
from logtail.core.hub import Channel, Hub
from logtail.core.subscription import Subscription

LINE_OVERHEAD = 128  # bytes of framing per line (id, event, JSON keys), to count the queue's room


def _nothing() -> None:
    pass


@dataclass
class Reading:
    """A read-back of one log planned by its source: notices first, then blocks of lines up to `end`."""

    end: Cursor  # the hub's position when the reading was planned: it ends there
    blocks: AsyncIterator[list[Line] | LineBlock | bytes] | None = None  # lines, or a ready notice frame
    notices: bytes = b""  # framed notices that explain where the reading starts (a gap, a rotation)
    # The position was lost (rotated or trimmed away): the log's deferred notices are queued now, but those at
    # a position `reads_past` says the reading still covers, which come in their place.
    after_hole: bool = False
    reads_past: Callable[[Cursor], bool] | None = None
    close: Callable[[], None] = field(default=_nothing)


class Backfill(Protocol):
    """What a log's source does for a lagging client: read the log back from where the source keeps it."""

    async def read_after(self, ch: Channel, cursor: Cursor, fmt: Format, sibling_start: bool) -> Reading: ...


class CatchUp:
    def __init__(self, sub: Subscription, hub: Hub, backfill: Callable[[str], Backfill | None], *,
                 sibling_starts: Collection[str] = ()) -> None:
        self.sub = sub
        self.hub = hub
        self.backfill = backfill  # the source of a log, by name
        # Logs whose first position is the start of NAME.1 (since=), which offset 0 alone cannot tell from
        # the start of the current file: their first read-back is told so.
        self.sibling_starts = set(sibling_starts)
        self.readings: dict[str, Reading] = {}
        self._turn = 0

    async def step(self) -> None:
        logs = list(self.sub.lagging)
        if not logs:
            return
        log = logs[self._turn % len(logs)]
        self._turn += 1
        reading = self.readings.get(log)
        if reading is None and log in self.sibling_starts:
            await self._start_reading(log, self.sub.lagging[log])
        elif reading is None:
            await self._from_window(log)
        else:
            await self._read(log, reading)

    async def _from_window(self, log: str) -> None:
        # No await before the rejoin: the window, the hub's position and the rejoin are one consistent step
        # (a read-back takes the hub's position before its first await too).
        sub, ch = self.sub, self.hub.channel(log)
        cursor = sub.lagging[log]
        after = [] if ch.position is None or cursor == ch.position else ch.lines_after(cursor)
        if after is None:
            await self._start_reading(log, cursor)
            return
        room, count = sub.room(), 0
        for line in after:
            room -= len(line.text) + LINE_OVERHEAD
            count += 1
            if room <= 0:
                break
        if count == len(after):
            sub.rejoin(log, after, ch.position, ch.stats)
        else:
            last = after[count - 1]
            sub.catch_up(log, after[:count], position_of(log, last), ch.stats)

    async def _start_reading(self, log: str, cursor: Cursor) -> None:
        sub, ch = self.sub, self.hub.channel(log)
        sibling_start = log in self.sibling_starts
        self.sibling_starts.discard(log)
        source = self.backfill(log)
        if source is None:  # no source has the log any more: what the hub holds is all there is
            sub.catch_up(log, [], ch.position or cursor, ch.stats)
            return
        r = await source.read_after(ch, cursor, sub.fmt, sibling_start)
        if sub.closed:  # the stream ended while the source planned the reading
            r.close()
            return
        if r.after_hole:  # notices that happened in the hole explain it; those in what is read back wait for it
            sub.flush_deferred(log, keep=r.reads_past)
        if r.notices:
            sub.queue_notice(r.notices)
        if r.blocks is not None:
            self.readings[log] = r
        else:
            r.close()
            sub.catch_up(log, [], r.end, ch.stats)

    async def _read(self, log: str, reading: Reading) -> None:
        ch = self.hub.channel(log)
        try:
            assert reading.blocks is not None  # a reading without blocks is never kept (_start_reading)
            lines = await anext(reading.blocks)
        except StopAsyncIteration:
            self._finish(log)
            self.sub.catch_up(log, [], reading.end, ch.stats)
            return
        if isinstance(lines, bytes):  # a notice read back in its place (or b"": Redis away, retrying)
            if lines:
                self.sub.queue_notice(lines)
            return
        if isinstance(lines, LineBlock):
            if lines.count and not self.sub.closed:
                self.sub.catch_up(log, lines, lines.reached, ch.stats)
            return
        if lines and not self.sub.closed:
            last = lines[-1]
            self.sub.catch_up(log, lines, position_of(log, last), ch.stats)

    def _finish(self, log: str) -> None:
        reading = self.readings.pop(log, None)
        if reading is not None:
            reading.close()

    def close(self) -> None:
        """Close every open read-back (the stream is over)."""
        for log in list(self.readings):
            self._finish(log)
