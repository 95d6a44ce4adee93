"""The hub: each log's retained window of recent lines, and fan-out to per-client bounded queues.

Followers call `publish()` with a batch of lines (a list of lines, or a block of clean bytes: block.py); the
hub appends it to the log's window and, for each distinct filter among the log's subscribers, evaluates the
filter once per line and joins the matching lines' shared bytes once per wire format (without a filter, the
block's own frames: for a block of bytes and `format=text`, the bytes as read). Each subscriber then gets one
chunk appended to its queue: the cost per client per batch is an append, not a send. Everything here runs on
the event loop and never awaits, so `subscribe()` takes a consistent snapshot: nothing is delivered twice or
skipped between backlog and live.

What a client's queue takes, and what happens when it is full, is the subscription's business
(subscription.py).
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from logtail.core.block import LineBlock
from logtail.core.cursor import Cursor
from logtail.core.frames import Format, Line, NoticeKind, notice_frame
from logtail.core.positions import PositionIndex
from logtail.core.subscription import LogStats, Subscription
from logtail.match.fields import FieldCache
from logtail.match.filters import FilterError, LineFilter, RegexSet
from logtail.match.parsers import Parser

# Called with every published batch of a log and the position after it, whether or not anyone subscribes
# (the watches, logtail/watches/engine.py). Runs on the publish path: it must not block or await.
LineObserver = Callable[[str, LineBlock, Cursor], None]

log = logging.getLogger(__name__)

REGEX_SET_MIN = 4  # distinct patterns on one log before they are matched as one RE2 set


MIN_WINDOW_LINES = 100  # a log's window never shrinks below this for the node's total (`Windows`)


class Windows:
    """How many lines each log's window keeps: `per_log` (`--window-lines`), or, once the node follows more
    logs than `total` (`--window-total-lines`) allows that many each, an equal share of `total`, at least
    `MIN_WINDOW_LINES`. A node reading 1,000 shipped logs would otherwise keep 10 million lines (~0.7 KB
    each); what leaves a window is read back from its source (the file, Redis, the journal) when asked."""

    __slots__ = ("lines", "per_log", "total")

    def __init__(self, per_log: int, total: int | None = None) -> None:
        self.per_log = per_log
        self.total = total
        self.lines = per_log

    def share(self, logs: int) -> None:
        if self.total is not None and logs:
            self.lines = min(self.per_log, max(MIN_WINDOW_LINES, self.total // logs))


class Channel:
    """One log: its window of recent lines (any file generation), kept as the blocks they were published
    in (block.py), and its subscribers."""

    def __init__(self, name: str, windows: Windows) -> None:
        self.name = name
        self.blocks: deque[LineBlock] = deque()
        self.skip = 0  # lines at the start of blocks[0] that are already out of the window
        self.size = 0  # lines in the window
        self.positions = PositionIndex()  # which block holds a position (positions.py)
        self.windows = windows  # shared by the node's logs: a log's window shrinks as logs are added
        self.subscribers: set[Subscription] = set()
        self.groups: dict[LineFilter, set[Subscription]] = {}  # subscribers by filter
        self._dispatch: Dispatch | None = None  # how to evaluate the groups; rebuilt when they change
        self._regex_set: RegexSet | None = None  # the last one built: its chunks are reused (RegexSet)
        self.position: Cursor | None = None  # just after the last published line (or start of the file)
        self.stats = LogStats()
        self.parser: Parser | None = None  # the log's `parse` (None: auto), set by its source: for read-backs

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
        # Rebuilt when the groups changed, and at each batch while patterns wait for a chunk of the set: each
        # build adds at most one bounded chunk (RegexSet), and a batch is evaluated by one plan throughout.
        if self._dispatch is None or self._dispatch.pending:
            self._dispatch = Dispatch(self.name, self.groups, self._regex_set)
            self._regex_set = self._dispatch.regex_set
        return self._dispatch

    def extend(self, block: LineBlock) -> None:
        # Whole blocks leave the window once all their lines are out of it; until then `skip` hides the
        # lines of the oldest block that are.
        self.blocks.append(block)
        self.positions.add(block)
        self.size += block.count
        excess = self.size - self.windows.lines
        while excess > 0:
            live = self.blocks[0].count - self.skip
            if live <= excess:
                self.blocks.popleft()
                self.positions.drop_oldest()
                self.skip = 0
            else:
                self.skip += excess
                live = excess
            excess -= live
            self.size -= live

    def recent(self) -> list[Line]:
        """Every line in the window, oldest first."""
        return list(itertools.chain.from_iterable(self._lines_from(0, 0)))

    def lines_after(self, cursor: Cursor) -> list[Line] | None:
        """The window's lines after `cursor`, or None when the cursor is not in the window."""
        for first in self.positions.candidates(cursor.fid, cursor.offset):
            at = self.blocks[first].index_of(cursor.fid, cursor.offset)
            if at is None:
                continue
            if first == 0 and at < self.skip:
                return None
            return list(itertools.chain.from_iterable(self._lines_from(first, at + 1)))
        return None

    def _lines_from(self, first: int, at: int) -> Iterator[list[Line]]:
        """The window's lines from line `at` of block `first` on, a block at a time."""
        for i, block in enumerate(itertools.islice(self.blocks, first, None), first):
            start = at if i == first else 0
            if i == 0:
                start = max(start, self.skip)
            yield block.lines[start:] if start else block.lines

    def tail(self, count: int, line_filter: LineFilter) -> list[Line]:
        """The last `count` lines of the window that pass the filter, oldest first."""
        if count <= 0:
            return []
        picked: list[Line] = []
        oldest = len(self.blocks) - 1
        for back, block in enumerate(reversed(self.blocks)):
            lines = block.lines[self.skip:] if back == oldest else block.lines
            for line in reversed(lines):
                if line_filter.matches(line.text, line.level, parse=line.fields_of):
                    picked.append(line)
                    if len(picked) == count:
                        picked.reverse()
                        return picked
        picked.reverse()
        return picked


class Dispatch:
    """How a log's filter groups are evaluated for a batch, worked out once per change of the groups.

    With REGEX_SET_MIN or more distinct patterns they are matched as RE2 sets per line (RegexSet); those
    not in a set yet (`pending`) pattern by pattern.
    """

    def __init__(self, name: str, groups: dict[LineFilter, set[Subscription]],
                 previous: RegexSet | None = None) -> None:
        self.regex_set: RegexSet | None = None
        patterns = [flt for flt in groups if flt.regex]
        if len(patterns) >= REGEX_SET_MIN:
            try:
                self.regex_set = RegexSet(patterns, previous)
            except FilterError as exc:
                log.warning("%s: %s; matching pattern by pattern", name, exc)
        self.pending = self.regex_set is not None and self.regex_set.pending
        slots = self.regex_set.slots if self.regex_set else {}
        self.steps = [(flt, subs, slots.get(flt)) for flt, subs in groups.items()]
        self.needs_sets = any(slot is not None and not flt.regex_only for flt, _, slot in self.steps)


class Hub:
    def __init__(self, window_lines: int, queue_bytes: int, window_total_lines: int | None = None) -> None:
        self.windows = Windows(window_lines, window_total_lines)
        self.queue_bytes = queue_bytes
        self.channels: dict[str, Channel] = {}
        self.subscriptions: set[Subscription] = set()
        self.observers: list[LineObserver] = []

    def add(self, name: str, parser: Parser | None = None) -> None:
        self.channel(name).parser = parser

    def readers(self, name: str) -> int:
        return len(self.channel(name).subscribers)

    def channel(self, name: str) -> Channel:
        ch = self.channels.get(name)
        if ch is None:
            ch = self.channels[name] = Channel(name, self.windows)
            self.windows.share(len(self.channels))
        return ch

    @property
    def client_count(self) -> int:
        return len(self.subscriptions)

    @property
    def catching_up_count(self) -> int:
        return sum(1 for sub in self.subscriptions if sub.lagging)

    def publish(self, name: str, lines: list[Line] | LineBlock, position: Cursor) -> None:
        ch = self.channel(name)
        ch.position = position
        block = LineBlock.of_lines(name, lines) if isinstance(lines, list) else lines
        for observe in self.observers:  # a position alone too (a file opened, rotated)
            observe(name, block, position)
        if not block.count:
            return
        ch.extend(block)
        ch.stats.lines_read += block.count
        if ch.subscribers:
            self._fan_out(ch, block)

    def _fan_out(self, ch: Channel, block: LineBlock) -> None:
        # Work per distinct filter (evaluate, encode), then one append per subscriber.
        plan = ch.dispatch()
        found: list[set[int]] = []
        by_slot: dict[int, list[Line]] = {}
        if plan.regex_set is not None:
            # One set match per line; a regex-only filter's lines are then just those found in its slot.
            for line in block.lines:
                slots = plan.regex_set.match(line.text)
                for found_slot in slots:
                    bucket = by_slot.get(found_slot)
                    if bucket is None:
                        by_slot[found_slot] = [line]
                    else:
                        bucket.append(line)
                if plan.needs_sets:
                    found.append(set(slots))
        # A line's fields are parsed when a filter first asks, once for all filters, by the log's parser if any.
        parsed: FieldCache | None = None
        for flt, subs, slot in plan.steps:
            # A line's level is found only for a filter of levels (on a parsed log it is found from its fields).
            if flt.is_empty:
                self._deliver(ch, subs, block)  # the block as it is: its shared frames, lines only if asked
                continue
            if parsed is None:
                parsed = FieldCache(None if block.parser is None else block.parser.fields)
            if slot is None:
                hits = [line for line in block.lines
                        if flt.matches(line.text, line.level if flt.levels else None, None, parsed)]
            elif flt.regex_only:
                hits = by_slot.get(slot, [])
            else:
                hits = [line for line, f in zip(block.lines, found, strict=True)
                        if flt.matches(line.text, line.level if flt.levels else None, slot in f, parsed)]
            if hits:
                self._deliver(ch, subs, LineBlock.of_lines(ch.name, hits))

    def _deliver(self, ch: Channel, subs: set[Subscription], hits: LineBlock) -> None:
        chunks: dict[Format, bytes] = {}
        last = hits.last
        for sub in subs:
            if sub.own_ids:
                sub.push_lines(ch.name, hits.lines, ch.stats)
                continue
            chunk = chunks.get(sub.fmt)
            if chunk is None:
                chunk = chunks[sub.fmt] = hits.frames(sub.fmt)
            sub.push(ch.name, chunk, hits.count, last, ch.stats)

    def notice(self, name: str, kind: NoticeKind, message: str) -> None:
        log.info("%s: %s: %s", name, kind, message)
        ch = self.channel(name)
        frames: dict[Format, bytes] = {}
        for sub in ch.subscribers:
            frame = frames.get(sub.fmt)
            if frame is None:
                frame = frames[sub.fmt] = notice_frame(sub.fmt, name, kind, message)
            sub.notice(name, frame, ch.position)

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
