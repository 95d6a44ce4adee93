"""One client stream's queue: what it holds, in which order, and what happens when it is full.

Everything a client is sent passes through here: line chunks fanned out by the hub, the backlog, lines read
back while catching up, notices, heartbeats and position ids. The queue is bounded by bytes, and only line
chunks are ever refused; everything else is small and rare and keeps its place in the order.

What happens to a live log's lines when the queue is full (`overflow`):

- `catchup` (the default): the log starts *lagging*. Its live lines are no longer queued; the subscription
  keeps the position of the last line it queued for that log, and the client's writer serves it from the
  hub's window and the files (catchup.py) as fast as the client reads. Notices for a lagging log wait for
  the catch-up to reach the position where they happened. The log rejoins the live stream in one step of
  the event loop (`rejoin`), so no line is lost or repeated at the seam.
- `skip`: newer lines are dropped (and counted) until the writer drains the queue; the writer then sends a
  `gap` notice with the exact number of lines missed, and live lines again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from logtail.core.block import LineBlock, position_of
from logtail.core.cursor import Cursor, EventIds, file_id
from logtail.core.directwrite import DirectWriter
from logtail.core.frames import Format, Line, notice_frame
from logtail.core.rawresponse import Sender
from logtail.match.filters import LineFilter

Overflow = Literal["catchup", "skip"]
OVERFLOWS: tuple[Overflow, ...] = ("catchup", "skip")


@dataclass
class LogStats:
    lines_read: int = 0
    lines_sent: int = 0
    lines_dropped: int = 0


class Mark:
    """An id-only event recording positions (lines in between failed the filter); encoded when taken."""

    __slots__ = ("positions",)

    def __init__(self, positions: dict[str, str]) -> None:
        self.positions = positions


Item = bytes | tuple[str, list[Line]] | Mark


def start_of_any_file(log: str) -> Cursor:
    """Offset 0 is in every file: a position there matches whatever file the log has."""
    return Cursor(log, file_id(b"", 0), 0)


class Subscription(Sender):
    """One client stream: which logs, its filter and format, and its bounded queue (and, as a `Sender`, how
    its writes go, for the keep-alive ticker)."""

    def __init__(self, logs: list[str], line_filter: LineFilter, fmt: Format, queue_bytes: int,
                 multi: bool, overflow: Overflow = "catchup") -> None:
        super().__init__()
        self.logs = logs
        self.filter = line_filter
        self.fmt = fmt
        self.queue_bytes = queue_bytes
        self.overflow = overflow
        # Only a multi-log stream needs ids of its own, one cursor per log (what the client has received of
        # each): SSE sends one at the end of each write, NDJSON puts it in every row (`encode`).
        self.own_ids = multi and fmt in ("sse", "ndjson") and len(logs) > 1
        self.cursors = EventIds()
        # What a queued line adds to its JSON when sent: the SSE framing, or a multi-log NDJSON row's id (a
        # cursor of up to ~40 bytes per log), so that `queue_bytes` bounds what a write can be.
        self.line_overhead = 40 * len(logs) if self.own_ids and fmt == "ndjson" else 64
        self.chunks: list[Item] = []
        self.size = 0
        self.missed: dict[str, int] = {}  # skip: lines dropped per log since the last gap notice
        # catchup: where each log's queued lines end (the last Line, or the end of a block of bytes) ...
        self.given: dict[str, Line | Cursor] = {}
        # ... and the logs being served from the window and the files, with the position reached so far
        self.lagging: dict[str, Cursor] = {}
        self.deferred: dict[str, list[tuple[Cursor | None, bytes]]] = {}  # notices of lagging logs
        self.closed = False
        self.close_reason: bytes = b""
        self.waiter: asyncio.Future[None] | None = None
        self.direct: DirectWriter | None = None  # set by the stream once its response has started

    # --- what the hub queues ----------------------------------------------------------------------------

    def push(self, log: str, chunk: bytes | tuple[str, list[Line]], count: int, last: Line | Cursor, stats: LogStats,
             size: int = 0) -> None:
        """Queue a chunk of `count` live lines of `log`, the last of which is `last`."""
        if self.closed or log in self.lagging:
            return  # a lagging log's lines are read back by its catch-up
        size = size or len(chunk)
        # An empty queue takes any one chunk (a read batch can exceed a small queue_bytes), or a client that
        # keeps up would lose lines. With `skip`, once a log has skipped lines everything after them waits
        # for the gap notice (sent when the queue drains): a smaller chunk that would still fit must not
        # overtake it.
        if (self.chunks and self.size + size > self.queue_bytes) or log in self.missed:
            self._overflow(log, count, stats)
            return
        self.given[log] = last
        stats.lines_sent += count
        if isinstance(chunk, bytes) and self._write_now(chunk):
            return
        self.chunks.append(chunk)
        self.size += size
        self.wake()

    def _overflow(self, log: str, count: int, stats: LogStats) -> None:
        if self.overflow == "catchup":
            self.lag(log)
            return
        self.missed[log] = self.missed.get(log, 0) + count
        stats.lines_dropped += count
        self.wake()  # an idle writer sends the gap notice now

    def push_lines(self, log: str, lines: list[Line], stats: LogStats) -> None:
        """Multi-log SSE: lines are queued as they are and get their ids when taken (see `encode`)."""
        self.push(log, (log, lines), len(lines), lines[-1], stats, self._lines_size(lines))

    def notice(self, log: str, frame: bytes, at: Cursor | None) -> None:
        """A notice about `log`, which happened at position `at`: never dropped, never out of order."""
        if self.closed:
            return
        if log in self.lagging:
            self.deferred.setdefault(log, []).append((at, frame))
            self.wake()
            return
        if log in self.missed:  # the lines skipped so far came before this notice
            self._append(self._gap_frame(log, self.missed.pop(log)))
        self._append(frame)

    def heartbeat(self, frame: bytes) -> None:
        """A keep-alive comment, only into an empty queue (anything queued keeps the connection alive)."""
        if not self.chunks:
            self._append(frame)

    def begin(self, backlog: Iterable[tuple[str, list[Line]]], positions: dict[str, Cursor | None],
              resume: dict[str, Cursor]) -> None:
        """The stream's start, in the same step of the event loop as subscribing: the backlog (runs of one
        log's lines, in the order to send them) and each log's position (a reconnect never replays the
        backlog), or, for logs resumed from a cursor, a catch-up from there."""
        for log, lines in backlog:
            if lines:
                self._append_lines(log, lines)
        live = {log: str(pos) for log, pos in positions.items() if pos is not None and log not in resume}
        for log, pos in positions.items():
            if log not in resume:
                self.given[log] = pos if pos is not None else start_of_any_file(log)
        if live:
            self._append(Mark(live))
        self.lagging.update(resume)

    # --- catching up (driven by the client's writer, catchup.py) ----------------------------------------

    def lag(self, log: str) -> None:
        """Stop queueing `log`'s live lines; its catch-up starts after what is queued."""
        given = self.given.get(log)
        self.lagging[log] = position_of(log, given) if given is not None else start_of_any_file(log)
        self.wake()

    def catch_up(self, log: str, examined: list[Line] | LineBlock, reached: Cursor, stats: LogStats) -> None:
        """Queue the lines read back for a lagging log that pass the filter; the catch-up has examined
        everything up to `reached`. A deferred notice goes right after the line where it happened."""
        pending = self.deferred.get(log)
        if isinstance(examined, LineBlock):
            if pending or self.own_ids or not self.filter.is_empty:
                examined = examined.lines
            else:  # a block of clean bytes for every line: its frames in one piece
                self._append(examined.frames(self.fmt))
                stats.lines_sent += examined.count
                self.lagging[log] = reached
                return
        if pending:
            start = 0
            for i, line in enumerate([None, *examined]):
                at = self.lagging[log] if line is None else Cursor(log, line.fid, line.end)
                due = [frame for p, frame in pending if p == at]
                if due:
                    self._queue_hits(log, examined[start:i], stats)
                    start = i
                    for frame in due:
                        self._append(frame)
                    pending = [(p, frame) for p, frame in pending if p != at]
            self.deferred[log] = pending
            examined = examined[start:]
        self._queue_hits(log, examined, stats)
        self.lagging[log] = reached

    def rejoin(self, log: str, examined: list[Line], position: Cursor | None, stats: LogStats) -> None:
        """The last lines of a catch-up, up to the log's current `position`: from now on the hub queues its
        live lines. Must run in the same step of the event loop as reading the hub's window."""
        self.catch_up(log, examined, position or start_of_any_file(log), stats)
        self.flush_deferred(log)  # happened where the catch-up could not tell: now, at the latest
        self.given[log] = self.lagging.pop(log)
        if position is not None:
            self._append(Mark({log: str(position)}))

    def flush_deferred(self, log: str, keep: Callable[[Cursor], bool] | None = None) -> None:
        """Queue the deferred notices of `log` now, but those at a position `keep` says is still ahead."""
        ahead: list[tuple[Cursor | None, bytes]] = []
        for at, frame in self.deferred.pop(log, []):
            if keep is not None and at is not None and keep(at):
                ahead.append((at, frame))
            else:
                self._append(frame)
        if ahead:
            self.deferred[log] = ahead

    def _queue_hits(self, log: str, lines: list[Line], stats: LogStats) -> None:
        hits = [line for line in lines if self.filter.matches(line.text, line.level, parse=line.fields_of)]
        if hits:
            self._append_lines(log, hits)
            stats.lines_sent += len(hits)

    def queue_notice(self, frame: bytes) -> None:
        self._append(frame)

    def room(self) -> int:
        return self.queue_bytes - self.size

    # --- what the writer takes ----------------------------------------------------------------------------

    def take(self) -> bytes:
        """Everything queued, followed by a gap notice per log for lines dropped on overflow (skip)."""
        chunks = self.chunks
        data = b"".join([c if isinstance(c, bytes) else self._encode_item(c) for c in chunks])
        if self.own_ids and self.fmt == "sse" and self.cursors.changed:
            data += b"id: " + self.cursors.id() + b"\n\n"  # see `encode`
        chunks.clear()
        self.size = 0
        if self.missed:
            data += b"".join(self._gap_frame(name, n) for name, n in self.missed.items())
            self.missed.clear()
        return data

    def encode(self, log: str, lines: list[Line]) -> bytes:
        """Frames for `lines` in this client's format.

        A multi-log stream's id is the client's whole position vector (one cursor per log), built as lines are
        taken so that it always matches what the client has really received. On NDJSON it is every row's
        `id`. On SSE its line events carry no `id:` and each write ends with an id-only event (`take`): with a
        client of 100 logs the id is ~3 KB, 20 times the line, and every event's id would be most of what is
        sent. A browser's `Last-Event-ID` is then the end of the last write it received whole; each line's own
        cursor is in its data, for a client that must drop what a write cut off halfway sends again
        (docs/api.md).
        """
        if not self.own_ids:
            return b"".join([line.frame(self.fmt) for line in lines])
        cursors = self.cursors
        if self.fmt == "sse":
            cursors[log] = lines[-1].cursor
            return b"".join([line.sse_body for line in lines])
        rows: list[bytes] = []
        for line in lines:
            cursors[log] = line.cursor
            rows += (line.json_with_id(cursors.id()), b"\n")
        return b"".join(rows)

    def _encode_item(self, item: tuple[str, list[Line]] | Mark) -> bytes:
        if not isinstance(item, Mark):
            return self.encode(*item)
        self.cursors.update(item.positions)
        if self.fmt != "sse" or self.own_ids:
            return b""  # NDJSON has no id-only row; own ids: the next row's or the write's closing id holds it
        return b"id: " + self.cursors.id() + b"\n\n"

    def _write_now(self, data: bytes) -> bool:
        """Write `data` straight to the client when its writer is parked with nothing queued (so nothing
        is overtaken) and the transport takes it at once (directwrite.py); False: queue it."""
        direct, waiter = self.direct, self.waiter
        if direct is None or waiter is None or waiter.done() or not direct.write(data):
            return False
        self.last_sent = direct.clock()
        return True

    def _append(self, item: Item) -> None:
        if isinstance(item, bytes) and self._write_now(item):
            return
        self.chunks.append(item)
        self.size += self._lines_size(item[1]) if isinstance(item, tuple) else (
            len(item) if isinstance(item, bytes) else 64)
        self.wake()

    def _append_lines(self, log: str, lines: list[Line]) -> None:
        self._append((log, lines) if self.own_ids else b"".join(line.frame(self.fmt) for line in lines))

    def _lines_size(self, lines: list[Line]) -> int:
        if len(lines) == 1:  # a quiet log's batch: no generator to run
            return len(lines[0].sse_body) + self.line_overhead
        return sum(len(line.sse_body) for line in lines) + self.line_overhead * len(lines)

    def _gap_frame(self, log: str, missed: int) -> bytes:
        return notice_frame(self.fmt, log, "gap", f"{missed} lines skipped: this client read too slowly",
                            missed=missed)

    # --- the writer's life ----------------------------------------------------------------------------------

    def wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    @property
    def idle(self) -> bool:
        """Nothing to send and nothing to catch up: the writer may wait."""
        return not self.chunks and not self.missed and not self.lagging

    def close(self, final: bytes = b"") -> None:
        self.closed = True
        self.close_reason = final
        self.wake()
