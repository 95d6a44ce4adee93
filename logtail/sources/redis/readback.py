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
from logtail.match.parsers import Parser
from logtail.sources.redis import keys
from logtail.sources.redis.client import Backoff, read_range, read_reverse

if TYPE_CHECKING:
    from logtail.sources.redis.discovery import ShippedLogs

READ_COUNT = 1000  # entries per XRANGE


def read_after(shipped: ShippedLogs, ch: Channel, cursor: Cursor, fmt: Format,
               max_bytes: int) -> AsyncIterator[list[Line] | bytes] | None:
    """What follows `cursor` up to the hub's position (at most the last `max_bytes` of it), or None when the
    hub has published nothing yet."""
    if ch.position is None:
        return None
    stop = keys.entry_of_cursor(ch.position.fid, ch.position.offset)
    if stop is None:
        return None
    start = keys.entry_of_cursor(cursor.fid, cursor.offset)
    return read_stream(shipped, shipped.logs[ch.name].key, ch.name, start, stop[0], fmt, max_bytes, ch.parser)


async def read_stream(shipped: ShippedLogs, key: str, name: str, start: tuple[str, int] | None, stop: str,
                      fmt: Format, max_bytes: int, parser: Parser | None = None) -> AsyncIterator[list[Line] | bytes]:
    """The lines after `start` (entry id, line index; None: from the first) up to entry `stop` included; when
    more than `max_bytes` of text lie between, only the last `max_bytes` of it, after a `gap` notice (as a
    file's read-back is bounded by --resume-max-bytes).

    While Redis is away this waits (the reader warns and notices), yielding an empty frame after each failed
    attempt so that the caller can notice a client that left meanwhile.
    """
    low, skip, checked, bounded, backoff = "-", start, start is None, False, Backoff()
    while True:
        try:
            if not bounded:
                cut = await _cut_at(shipped, key, start[0] if start else "-", stop, max_bytes)
                bounded = True
                if cut is not None:
                    low, skip, checked = cut[0], cut, True
                    yield notice_frame(fmt, name, "gap", f"the position to resume from is more than "
                                                         f"resume_max_bytes ({max_bytes}) behind; continuing "
                                                         f"with the last {max_bytes} bytes")
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
            if notice is not None and skip is not None and entry.id == skip[0]:
                continue  # the entry of the position read from (since=): what it says came before
            if notice is not None:
                yield notice_frame(fmt, name, *notice)
            else:
                yield entry.lines(name, skip[1] if skip is not None and entry.id == skip[0] else 0, parser=parser)
        if len(entries) < READ_COUNT:
            return
        low = "(" + entries[-1].id


async def _cut_at(shipped: ShippedLogs, key: str, low: str, stop: str, max_bytes: int) -> tuple[str, int] | None:
    """Where to start so that at most `max_bytes` of text remain up to `stop`: an entry and the index of its
    last line to skip; None when all of it fits. Read from the newest back, so at most about `max_bytes`."""
    high, total = stop, 0
    while True:
        entries = await read_reverse(shipped.client, key, high, low, READ_COUNT)
        for entry in entries:
            texts = entry.texts()
            for k in range(len(texts), 0, -1):  # the entry's lines, newest first
                total += len(texts[k - 1]) + 1
                if total > max_bytes:
                    return entry.id, k
        if len(entries) < READ_COUNT:
            return None
        high = "(" + entries[-1].id
