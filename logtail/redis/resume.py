"""Where a client's stream of a shipped log starts: the backlog, the hub's window, or the stream in Redis.

Like resume.py for files, `plan_shipped()` runs in the same step of the event loop as the subscription. A
cursor found in the hub's window is resumed from it; otherwise the entries after it are read back from Redis
(XRANGE) up to the last entry the hub had published at subscribe time, and everything later reaches the
client through its queue. Entry ids are the same on every web node, so this works on any of them. When the
cursor's own entry is no longer in Redis (trimmed by --redis-maxlen, or lost in a restart without
persistence) the client gets a `gap` notice, then every line Redis still has after its position.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from ..cursor import Cursor
from ..filters import LineFilter
from ..hub import Channel
from ..resume import Plan, plan
from ..sse import Format, Line, notice_frame
from . import keys
from .client import read_range

if TYPE_CHECKING:
    from .discovery import ShippedLogs

READ_COUNT = 1000  # entries per XRANGE


def plan_shipped(shipped: ShippedLogs, ch: Channel, cursor: Cursor | None, backlog: int,
                 line_filter: LineFilter) -> Plan:
    if cursor is None or (cursor.fid, cursor.offset) in ch.positions:
        # The backlog, or a resume from the window: as for a file (no file to fall back on is needed).
        return plan(ch, None, cursor, backlog, line_filter, 0)
    p = Plan(ch.name)
    if ch.position is None:
        return p  # nothing read from this stream yet: everything reaches the client live
    start = keys.entry_of_cursor(cursor.fid, cursor.offset)
    stop = keys.entry_of_cursor(ch.position.fid, ch.position.offset)
    if stop is None:
        return p
    log = shipped.logs[ch.name]

    def read(fmt: Format) -> AsyncIterator[list[Line] | bytes]:
        return read_back(shipped, log.key, ch.name, start, stop[0], fmt)

    p.sources.append(read)
    return p


async def read_back(shipped: ShippedLogs, key: str, name: str, start: tuple[str, int] | None, stop: str,
                    fmt: Format) -> AsyncIterator[list[Line] | bytes]:
    """The lines after `start` (entry id, line index; None: from the first) up to entry `stop` included.

    While Redis is away this waits (the reader warns and notices), yielding an empty frame after each failed
    attempt so that the caller can notice a client that left meanwhile.
    """
    low, skip, checked, delay = "-", start, start is None, 0.1
    while True:
        try:
            if not checked:  # is the cursor's own entry still there?
                assert start is not None
                low = start[0] if await read_range(shipped.client, key, start[0], start[0], 1) else "(" + start[0]
                checked = True
                if low.startswith("("):
                    yield notice_frame(fmt, name, "gap", "the position to resume from is no longer in Redis "
                                                         "(trimmed by --redis-maxlen, or lost); continuing with "
                                                         "what it retains")
            entries = await read_range(shipped.client, key, low, stop, READ_COUNT)
        except (RedisError, OSError):
            yield b""
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            continue
        for entry in entries:
            notice = entry.notice
            if notice is not None:
                yield notice_frame(fmt, name, *notice)
            else:
                yield entry.lines(name, skip[1] if skip is not None and entry.id == skip[0] else 0)
        if len(entries) < READ_COUNT:
            return
        low = "(" + entries[-1].id
