"""The hub: each log's retained window of recent lines, and fan-out to per-client bounded queues.

Followers call `publish()` with a batch of lines; the hub appends them to the log's window and, for each
distinct filter among the log's subscribers, evaluates the filter once per line and joins the matching
lines' shared bytes once per wire format. Each subscriber then gets one chunk appended to its queue: the
cost per client per batch is an append, not a send. Everything here runs on the event loop and never awaits,
so `subscribe()` takes a consistent snapshot: nothing is delivered twice or skipped between backlog and live.

Overflow policy: a client whose queue would exceed `queue_bytes` skips ahead. New chunks are dropped (and
counted) until its writer drains what is queued; the writer then sends a `gap` notice with the exact number
of lines it missed, and continues with live lines.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from .cursor import Cursor
from .fields import FieldCache
from .filters import FilterError, LineFilter, RegexSet
from .sse import Format, Line, notice_frame

log = logging.getLogger(__name__)

REGEX_SET_MIN = 4  # distinct patterns on one log before they are matched as one RE2 set


@dataclass
class LogStats:
    lines_read: int = 0
    lines_sent: int = 0
    lines_dropped: int = 0


class Channel:
    """One log: its window of recent lines (any file generation) and its subscribers."""

    def __init__(self, name: str, window_lines: int) -> None:
        self.name = name
        self.window: deque[Line] = deque()
        self.window_lines = window_lines
        self.positions: dict[tuple[str, int], int] = {}  # (fid, end) -> seq, for resume from the window
        self.first_seq = 0  # seq of window[0]
        self.subscribers: set[Subscription] = set()
        self.groups: dict[LineFilter, set[Subscription]] = {}  # subscribers by filter
        self._dispatch: Dispatch | None = None  # how to evaluate the groups; rebuilt when they change
        self.position: Cursor | None = None  # just after the last published line (or start of the file)
        self.stats = LogStats()

    def add(self, sub: Subscription) -> None:
        self.subscribers.add(sub)
        group = self.groups.setdefault(sub.filter, set())
        group.add(sub)
        if len(group) == 1:
            self._dispatch = None  # a new distinct filter

    def remove(self, sub: Subscription) -> None:
        self.subscribers.discard(sub)
        group = self.groups.get(sub.filter)
        if group is not None:
            group.discard(sub)
            if not group:
                del self.groups[sub.filter]
                self._dispatch = None

    def dispatch(self) -> Dispatch:
        if self._dispatch is None:
            self._dispatch = Dispatch(self.name, self.groups)
        return self._dispatch

    def extend(self, lines: list[Line]) -> None:
        window, positions = self.window, self.positions
        for line in lines:
            if len(window) >= self.window_lines:
                old = window.popleft()
                positions.pop((old.fid, old.end), None)  # the same position may recur in a rewritten file
                self.first_seq += 1
            positions[(line.fid, line.end)] = self.first_seq + len(window)
            window.append(line)

    def lines_after(self, cursor: Cursor) -> list[Line] | None:
        """The window's lines after `cursor`, or None when the cursor is not in the window."""
        seq = self.positions.get((cursor.fid, cursor.offset))
        if seq is None:
            return None
        return list(itertools.islice(self.window, seq - self.first_seq + 1, None))

    def tail(self, count: int, line_filter: LineFilter) -> list[Line]:
        """The last `count` lines of the window that pass the filter, oldest first."""
        if count <= 0:
            return []
        picked: list[Line] = []
        for line in reversed(self.window):
            if line_filter.matches(line.text, line.level):
                picked.append(line)
                if len(picked) == count:
                    break
        picked.reverse()
        return picked


class Dispatch:
    """How a log's filter groups are evaluated for a batch, worked out once per change of the groups.

    With REGEX_SET_MIN or more distinct patterns they are matched as one RE2 set per line (RegexSet).
    """

    def __init__(self, name: str, groups: dict[LineFilter, set[Subscription]]) -> None:
        self.regex_set: RegexSet | None = None
        patterns = [flt for flt in groups if flt.regex]
        if len(patterns) >= REGEX_SET_MIN:
            try:
                self.regex_set = RegexSet(patterns)
            except FilterError as exc:
                log.warning("%s: %s; matching pattern by pattern", name, exc)
        slots = self.regex_set.slots if self.regex_set else {}
        self.steps = [(flt, subs, slots.get(flt)) for flt, subs in groups.items()]
        self.needs_sets = any(slot is not None and not flt.regex_only for flt, _, slot in self.steps)


class Subscription:
    """One client stream: which logs, its filter and format, and its bounded queue of bytes."""

    def __init__(self, logs: list[str], line_filter: LineFilter, fmt: Format, queue_bytes: int,
                 multi: bool) -> None:
        self.logs = logs
        self.filter = line_filter
        self.fmt = fmt
        self.queue_bytes = queue_bytes
        # Only the multi-log SSE stream needs an id per client (one cursor per log in the stream).
        self.own_ids = multi and fmt == "sse" and len(logs) > 1
        self.cursors: dict[str, str] = {}
        self.chunks: list[bytes | tuple[str, list[Line]]] = []
        self.size = 0
        self.missed: dict[str, int] = {}
        self.closed = False
        self.close_reason: bytes = b""
        self.waiter: asyncio.Future[None] | None = None
        # Kept up to date by the client's writer, read by the keep-alive ticker (keepalive.py).
        self.last_sent = 0.0
        self.sending_since: float | None = None
        self.stalled = False
        self.task: asyncio.Task[object] | None = None

    def push(self, log: str, chunk: bytes | tuple[str, list[Line]], count: int, stats: LogStats,
             size: int = 0) -> None:
        if self.closed:
            return
        size = size or len(chunk)
        # Once a log has skipped lines, everything after them waits for the gap notice (sent when the queue
        # drains): a smaller chunk that would still fit must not overtake it, or the notice lands late. An
        # empty queue takes any one chunk (a read batch can exceed a small queue_bytes), or a client that
        # keeps up would lose lines.
        if log in self.missed or (self.chunks and self.size + size > self.queue_bytes):
            self.missed[log] = self.missed.get(log, 0) + count
            stats.lines_dropped += count
            self.wake()  # an idle writer sends the gap notice now
            return
        self.chunks.append(chunk)
        self.size += size
        stats.lines_sent += count
        self.wake()

    def push_lines(self, log: str, lines: list[Line], stats: LogStats) -> None:
        """Multi-log SSE: lines are queued as they are and get their ids when taken (see `encode`)."""
        size = sum(len(line.sse_body) for line in lines) + 64 * len(lines)
        self.push(log, (log, lines), len(lines), stats, size)

    def encode(self, log: str, lines: list[Line]) -> bytes:
        """Frames for `lines` in this client's format.

        On the multi-log SSE stream each line's id is the client's whole position vector (one cursor per
        log), built when the line is sent so that it always matches what the client has really received.
        """
        if not self.own_ids:
            return b"".join(line.frame(self.fmt) for line in lines)
        parts = []
        cursors = self.cursors
        for line in lines:
            cursors[log] = line.cursor
            parts.append(b"id: " + ",".join(cursors.values()).encode() + b"\n" + line.sse_body)
        return b"".join(parts)

    def wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def take(self) -> bytes:
        """Everything queued, followed by a gap notice per log for lines dropped on overflow."""
        data = b"".join(c if isinstance(c, bytes) else self.encode(*c) for c in self.chunks)
        self.chunks.clear()
        self.size = 0
        if self.missed:
            data += b"".join(
                notice_frame(self.fmt, name, "gap", f"{n} lines skipped: this client read too slowly", missed=n)
                for name, n in self.missed.items()
            )
            self.missed.clear()
        return data

    def stall(self) -> None:
        """The client has not accepted a send for too long: end its writer wherever it is waiting."""
        if not self.stalled and self.task is not None:
            self.stalled = True
            self.task.cancel()

    def close(self, final: bytes = b"") -> None:
        self.closed = True
        self.close_reason = final
        self.wake()


class Hub:
    def __init__(self, window_lines: int, queue_bytes: int) -> None:
        self.window_lines = window_lines
        self.queue_bytes = queue_bytes
        self.channels: dict[str, Channel] = {}
        self.subscriptions: set[Subscription] = set()

    def channel(self, name: str) -> Channel:
        ch = self.channels.get(name)
        if ch is None:
            ch = self.channels[name] = Channel(name, self.window_lines)
        return ch

    @property
    def client_count(self) -> int:
        return len(self.subscriptions)

    def publish(self, name: str, lines: list[Line], position: Cursor) -> None:
        ch = self.channel(name)
        ch.position = position
        if not lines:
            return
        ch.extend(lines)
        ch.stats.lines_read += len(lines)
        if ch.subscribers:
            self._fan_out(ch, lines)

    def _fan_out(self, ch: Channel, lines: list[Line]) -> None:
        # Work per distinct filter (evaluate, encode), then one append per subscriber.
        plan = ch.dispatch()
        found: list[set[int]] = []
        by_slot: dict[int, list[Line]] = {}
        if plan.regex_set is not None:
            # One set match per line; a regex-only filter's lines are then just those found in its slot.
            for line in lines:
                slots = plan.regex_set.match(line.text)
                for found_slot in slots:
                    bucket = by_slot.get(found_slot)
                    if bucket is None:
                        by_slot[found_slot] = [line]
                    else:
                        bucket.append(line)
                if plan.needs_sets:
                    found.append(set(slots))
        parsed = FieldCache()  # a line's fields are parsed when a filter first asks, once for all filters
        for flt, subs, slot in plan.steps:
            if flt.is_empty:
                hits = lines
            elif slot is None:
                hits = [line for line in lines if flt.matches(line.text, line.level, None, parsed)]
            elif flt.regex_only:
                hits = by_slot.get(slot, [])
            else:
                hits = [line for line, f in zip(lines, found, strict=True)
                        if flt.matches(line.text, line.level, slot in f, parsed)]
            if hits:
                self._deliver(ch, subs, hits)

    def _deliver(self, ch: Channel, subs: set[Subscription], hits: list[Line]) -> None:
        chunks: dict[Format, bytes] = {}
        count = len(hits)
        for sub in subs:
            if sub.own_ids:
                sub.push_lines(ch.name, hits, ch.stats)
                continue
            chunk = chunks.get(sub.fmt)
            if chunk is None:
                chunk = chunks[sub.fmt] = b"".join(line.frame(sub.fmt) for line in hits)
            sub.push(ch.name, chunk, count, ch.stats)

    def notice(self, name: str, kind: str, message: str) -> None:
        log.info("%s: %s: %s", name, kind, message)
        ch = self.channel(name)
        frames: dict[Format, bytes] = {}
        for sub in ch.subscribers:
            frame = frames.get(sub.fmt)
            if frame is None:
                frame = frames[sub.fmt] = notice_frame(sub.fmt, name, kind, message)
            sub.push(name, frame, 0, ch.stats)

    def subscribe(self, logs: Iterable[str], sub: Subscription) -> None:
        for name in logs:
            self.channel(name).add(sub)
        self.subscriptions.add(sub)

    def unsubscribe(self, sub: Subscription) -> None:
        for name in sub.logs:
            ch = self.channels.get(name)
            if ch is not None:
                ch.remove(sub)
        self.subscriptions.discard(sub)
        sub.closed = True

    def close_all(self, final: dict[Format, bytes]) -> None:
        """End every stream (server shutdown); each writer sends its format's final frame and returns."""
        for sub in list(self.subscriptions):
            sub.close(final.get(sub.fmt, b""))
