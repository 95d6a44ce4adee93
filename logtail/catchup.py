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

from collections.abc import AsyncIterator
from dataclasses import dataclass

from .cursor import Cursor
from .hub import Hub
from .registry import LogRegistry
from .resume import Plan, notice_frames, plan_lines, read_back
from .sse import Line
from .subscription import Subscription

LINE_OVERHEAD = 128  # bytes of framing per line (id, event, JSON keys), to count the queue's room


@dataclass
class Reading:
    plan: Plan
    blocks: AsyncIterator[list[Line]]


class CatchUp:
    def __init__(self, sub: Subscription, hub: Hub, registry: LogRegistry, *, resume_max_bytes: int,
                 max_line_bytes: int) -> None:
        self.sub = sub
        self.hub = hub
        self.registry = registry
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
        if reading is None:
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
            sub.catch_up(log, after[:count], Cursor(log, last.fid, last.end), ch.stats)

    def _start_reading(self, log: str, cursor: Cursor) -> None:
        sub, ch = self.sub, self.hub.channel(log)
        entry = self.registry.get(log)
        p = read_back(ch, entry.follower if entry else None, cursor, self.resume_max_bytes)
        if p.lost:  # notices that happened in the hole explain it; those in what is read back wait for it
            sub.flush_deferred(log, keep=p.reads_past)
        if p.notices:
            sub.queue_notice(notice_frames(p, sub.fmt))
        assert p.end is not None  # a lagging log with no position rejoins at once (_from_window)
        if p.readbacks:
            self.readings[log] = Reading(p, plan_lines(p, self.max_line_bytes))
        else:
            sub.catch_up(log, [], p.end, ch.stats)

    async def _read(self, log: str, reading: Reading) -> None:
        ch = self.hub.channel(log)
        try:
            lines = await anext(reading.blocks)
        except StopAsyncIteration:
            self._finish(log)
            assert reading.plan.end is not None
            self.sub.catch_up(log, [], reading.plan.end, ch.stats)
            return
        if lines and not self.sub.closed:
            last = lines[-1]
            self.sub.catch_up(log, lines, Cursor(log, last.fid, last.end), ch.stats)

    def _finish(self, log: str) -> None:
        reading = self.readings.pop(log, None)
        if reading is not None:
            reading.plan.close()

    def close(self) -> None:
        """Close every open read-back (the stream is over)."""
        for log in list(self.readings):
            self._finish(log)
