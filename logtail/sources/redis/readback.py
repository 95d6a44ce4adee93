"""Reading a shipped log back from its Redis stream, after a position that is no longer in the hub's window.

Like resume.py for files, and driven the same way by a lagging client's catch-up (catchup.py): the entries
after the position are read (XRANGE) up to the last entry the hub had published when the reading was
planned; everything later reaches the client from the window or its queue. Entry ids are the same on every
web node, so this works on any of them. When the position's own entry is no longer in Redis (trimmed by
--redis-maxlen, or lost in a restart without persistence) the client gets a `gap` notice, then every line
Redis still has after its position.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from logtail.core.cursor import Cursor
from logtail.core.frames import Format, Line, notice_frame
from logtail.core.hub import Channel
from logtail.sources.redis import keys
from logtail.sources.redis.client import Backoff, read_range

if TYPE_CHECKING:
    from logtail.sources.redis.discovery import ShippedLogs

READ_COUNT = 1000  # entries per XRANGE


def read_after(shipped: ShippedLogs, ch: Channel, cursor: Cursor,
               fmt: Format) -> AsyncIterator[list[Line] | bytes] | None:
    """What follows `cursor` up to the hub's position, or None when the hub has published nothing yet."""
    if ch.position is None:
        return None
    stop = keys.entry_of_cursor(ch.position.fid, ch.position.offset)
    if stop is None:
        return None
    start = keys.entry_of_cursor(cursor.fid, cursor.offset)
    return read_back(shipped, shipped.logs[ch.name].key, ch.name, start, stop[0], fmt)


async def read_back(shipped: ShippedLogs, key: str, name: str, start: tuple[str, int] | None, stop: str,
                    fmt: Format) -> AsyncIterator[list[Line] | bytes]:
    """The lines after `start` (entry id, line index; None: from the first) up to entry `stop` included.

    While Redis is away this waits (the reader warns and notices), yielding an empty frame after each failed
    attempt so that the caller can notice a client that left meanwhile.
    """
    low, skip, checked, backoff = "-", start, start is None, Backoff()
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
            await backoff.wait()
            continue
        backoff.reset()
        for entry in entries:
            notice = entry.notice
            if notice is not None:
                yield notice_frame(fmt, name, *notice)
            else:
                yield entry.lines(name, skip[1] if skip is not None and entry.id == skip[0] else 0)
        if len(entries) < READ_COUNT:
            return
        low = "(" + entries[-1].id
