"""--redis-maxlen that holds: a stream keeps at least that many lines, counted from what Redis holds.

An entry holds one line when a log is quiet and up to 512 when it is busy (a catch-up after a restart), so a
bound in entries cannot be a bound in lines. Every entry therefore carries `n`, the stream's count of lines
up to and including its own (keys.py); the shipper reads it back from the last entry when it starts, so the
count survives restarts. The entries a stream may drop are those whose `n` is at most `total - maxlen`; the
first one it keeps is found in an index of (entry id, n) and the stream is cut there exactly with
`XTRIM MINID`. The stream then holds at least `maxlen` lines and at most `maxlen` plus the lines of one
entry (plus, until the next write trims it, the batch just written).

The index holds the entries this process wrote (their ids come back from XADD) and, before them, the entries
a previous run left, read from Redis a chunk at a time only when trimming reaches them: each is read once.
A stream written by a version without `n` is counted once, in full, when the shipper starts.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from logtail.sources.redis import keys
from logtail.sources.redis.client import Client, read_range

READ_COUNT = 100  # entries per XRANGE while indexing what a previous run left (at most 64 KiB of text each)


def lines_in(fields: dict[str, str]) -> int:
    text = fields.get("lines")
    return 0 if text is None or "kind" in fields else text.count("\n") + 1


class Retention:
    """The line count of one stream and the entries it may drop to stay at `maxlen` lines."""

    def __init__(self, key: str, maxlen: int) -> None:
        self.key = key
        self.maxlen = maxlen
        self.total = 0  # lines ever stored in the stream (the `n` of its last entry)
        self.index: deque[tuple[str, int]] = deque()  # (entry id, n) of retained entries, oldest first
        self.old: deque[tuple[str, int]] = deque()  # the same for what a previous run left, as far as read
        self.unread: tuple[str, str] | None = None  # (after, up to) ids of old entries not indexed yet

    async def start(self, client: Client, last: keys.Entry | None) -> None:
        """Continue the count of a stream whose last entry is `last` (None: an empty stream)."""
        self.total, self.unread = 0, None  # from scratch: a failed attempt may be retried
        self.old.clear()
        if last is None:
            return
        if last.count is not None:
            self.total = last.count
            self.unread = ("-", last.id)
            return
        # Written without counts: count it all now, once (entries, not lines, are what is read).
        after = "-"
        while True:
            entries = await read_range(client, self.key, after, last.id, READ_COUNT)
            for entry in entries:
                self.total += lines_in(entry.fields)
                self.old.append((entry.id, self.total))
            if len(entries) < READ_COUNT:
                return
            after = "(" + entries[-1].id

    def count(self, batch: list[dict[str, str]]) -> None:
        """Give each entry of a batch about to be stored its `n`."""
        n = self.total
        for fields in batch:
            n += lines_in(fields)
            fields["n"] = str(n)

    def stored(self, batch: list[dict[str, str]], ids: list[Any]) -> None:
        """A batch was stored with these entry ids."""
        for fields, entry_id in zip(batch, ids, strict=True):
            self.index.append((keys.text_of(entry_id), int(fields["n"])))
        self.total = int(batch[-1]["n"])

    async def cut(self, client: Client) -> str | None:
        """The id of the first entry the stream must keep, once entries before it may go; None: keep all."""
        drop_to = self.total - self.maxlen  # entries whose lines all have numbers up to this may go
        dropped = False
        while True:
            queue = await self._front(client)
            if queue is None or queue[0][1] > drop_to:
                break
            queue.popleft()
            dropped = True
        if not dropped:
            return None
        queue = await self._front(client)
        return queue[0][0] if queue else None

    async def _front(self, client: Client) -> deque[tuple[str, int]] | None:
        """The queue holding the oldest retained entry, reading a chunk of old entries when needed."""
        if not self.old and self.unread is not None:
            after, upto = self.unread
            entries = await read_range(client, self.key, after, upto, READ_COUNT)
            for entry in entries:
                self.old.append((entry.id, entry.count or 0))
            self.unread = None if len(entries) < READ_COUNT else ("(" + entries[-1].id, upto)
        if self.old:
            return self.old
        return self.index or None
