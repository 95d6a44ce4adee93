"""Catching up: serving a lagging log from the hub's window, then from its files, at the pace the client reads.

A log of a stream lags when the client's queue overflowed (subscription.py) or when the stream was opened to
resume after a position. The client's writer calls `step()` whenever its queue has room; each step does one
bounded piece of work for one lagging log, in turn:

- its position is in the hub's window: the lines after it, as many as the queue has room for. When the
  rest of the window fits, the log rejoins the live stream in that same step of the event loop: the window
  holds every line published so far and the hub queues every later one, so nothing is lost or repeated.
- otherwise: a read-back of the files (resume.py), planned up to the hub's position at that moment and read
  one block per step off the loop. When it is done, the position is the plan's end, and the window is next.

Memory per lagging client is its queue plus one read block: the window's lines are shared with the hub.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from logtail.core.block import LineBlock, position_of
from logtail.core.cursor import Cursor
from logtail.core.frames import Line
from logtail.core.hub import Hub
from logtail.core.subscription import Subscription
from logtail.sources.files.readback import Plan, notice_frames, plan_lines, read_back
from logtail.sources.files.table import LogRegistry

if TYPE_CHECKING:
    from logtail.sources.redis.discovery import ShippedLogs

LINE_OVERHEAD = 128  # bytes of framing per line (id, event, JSON keys), to count the queue's room


@dataclass
class Reading:
    end: Cursor  # the hub's position when the reading was planned: it ends there
    blocks: AsyncIterator[list[Line] | LineBlock | bytes]  # lines, or a ready notice frame
    plan: Plan | None = None  # a file read-back's open descriptors (a shipped log reads Redis instead)

    def close(self) -> None:
        if self.plan is not None:
            self.plan.close()


class CatchUp:
    def __init__(self, sub: Subscription, hub: Hub, registry: LogRegistry, *, resume_max_bytes: int,
                 max_line_bytes: int, shipped: ShippedLogs | None = None,
                 sibling_starts: Collection[str] = ()) -> None:
        self.sub = sub
        self.hub = hub
        self.registry = registry
        self.shipped = shipped
        # Logs whose first position is the start of NAME.1 (since=), which offset 0 alone cannot tell from
        # the start of the current file: their first read-back is told so.
        self.sibling_starts = set(sibling_starts)
        self.resume_max_bytes = resume_max_bytes
        self.max_line_bytes = max_line_bytes
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
            self._start_reading(log, self.sub.lagging[log])
        elif reading is None:
            self._from_window(log)
        else:
            await self._read(log, reading)

    def _from_window(self, log: str) -> None:
        # No await in here: the window, the hub's position and the rejoin are one consistent step.
        sub, ch = self.sub, self.hub.channel(log)
        cursor = sub.lagging[log]
        after = [] if ch.position is None or cursor == ch.position else ch.lines_after(cursor)
        if after is None:
            self._start_reading(log, cursor)
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

    def _start_reading(self, log: str, cursor: Cursor) -> None:
        if self.shipped is not None and log in self.shipped:
            self._start_reading_shipped(log, cursor)
            return
        sub, ch = self.sub, self.hub.channel(log)
        entry = self.registry.get(log)
        sibling_start = log in self.sibling_starts
        self.sibling_starts.discard(log)
        p = read_back(ch, entry.follower if entry else None, cursor, self.resume_max_bytes, sibling_start)
        if p.lost:  # notices that happened in the hole explain it; those in what is read back wait for it
            sub.flush_deferred(log, keep=p.reads_past)
        if p.notices:
            sub.queue_notice(notice_frames(p, sub.fmt))
        assert p.end is not None  # a lagging log with no position rejoins at once (_from_window)
        if p.readbacks:
            self.readings[log] = Reading(p.end, plan_lines(p, self.max_line_bytes), p)
        else:
            sub.catch_up(log, [], p.end, ch.stats)

    def _start_reading_shipped(self, log: str, cursor: Cursor) -> None:
        # A shipped log's lines beyond the window are in its Redis stream, up to the hub's position.
        assert self.shipped is not None
        ch = self.hub.channel(log)
        blocks = self.shipped.read_after(ch, cursor, self.sub.fmt)
        if blocks is None or ch.position is None:
            self.sub.catch_up(log, [], ch.position or cursor, ch.stats)
        else:
            self.readings[log] = Reading(ch.position, blocks)

    async def _read(self, log: str, reading: Reading) -> None:
        ch = self.hub.channel(log)
        try:
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
