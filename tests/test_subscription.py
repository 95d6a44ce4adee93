"""A client's queue: its size and order rules, notices that are never dropped, and both overflow policies."""

from __future__ import annotations

import asyncio

from logtail.core.cursor import Cursor
from logtail.core.frames import HEARTBEAT, Line
from logtail.core.hub import Hub
from logtail.core.subscription import LogStats, Subscription
from logtail.match.filters import LineFilter
from logtail.web.keepalive import tick
from tests.hub_support import block_of, events, lines, publish, sub, texts
from tests.sse_client import decode_events


def test_a_notice_on_a_full_queue_is_kept_in_its_place_skip() -> None:
    """Regression: `Hub.notice` pushed with a count of 0, so on a full queue the `rotated` notice was dropped
    (and a gap of 0 lines recorded). It must come after the gap for the lines skipped before it, and before
    the lines published after it."""
    hub = Hub(1000, 1 << 20)
    s = sub(queue_bytes=300, overflow="skip")
    hub.subscribe(["a"], s)
    for i in range(10):
        publish(hub, lines(1, start=i))
    hub.notice("a", "rotated", "a was rotated")
    received = events(s.take())
    kinds = [k for kind, k in received if kind == "notice"]
    assert kinds == ["gap", "rotated"], received
    assert received[-1] == ("notice", "rotated")
    publish(hub, lines(1, start=10))
    assert events(s.take()) == [("line", "line 10")]


def test_a_notice_on_a_full_queue_is_kept_catchup() -> None:
    """With catch-up, a notice for a log that is behind waits for the catch-up to reach where it happened."""
    hub = Hub(1000, 1 << 20)
    s = sub(queue_bytes=300)
    hub.subscribe(["a"], s)
    for i in range(5):
        publish(hub, lines(1, start=i))
    assert "a" in s.lagging
    hub.notice("a", "rotated", "a was rotated")  # happened after line 4
    publish(hub, lines(2, start=5))
    got = events(s.take())
    ch = hub.channel("a")
    while "a" in s.lagging:  # what catchup.py does from the window, one step at a time
        after = ch.lines_after(s.lagging["a"])
        assert after is not None
        s.rejoin("a", after, ch.position, ch.stats)
    got += events(s.take())
    texts = [k for kind, k in got if kind != "id"]
    assert texts == [*(f"line {i}" for i in range(5)), "rotated", "line 5", "line 6"], got


def test_heartbeat_is_queued_through_the_subscription_and_counted() -> None:
    """Regression: the keep-alive ticker appended to `sub.chunks` and changed `sub.size` itself."""
    hub = Hub(10, 1 << 20)
    s = sub()
    hub.subscribe(["a"], s)
    s.last_sent = 0.0
    tick(hub, now=20.0, heartbeat=15.0, send_timeout=30.0, interval=1.0)
    assert s.chunks == [HEARTBEAT] and s.size == len(HEARTBEAT)
    tick(hub, now=21.0, heartbeat=15.0, send_timeout=30.0, interval=1.0)
    assert s.chunks == [HEARTBEAT], "a second heartbeat into a non-empty queue"
    assert s.take() == HEARTBEAT and s.size == 0


def test_position_mark_is_counted_and_in_order() -> None:
    """Regression: the stream inserted the position id at the head of the queue without counting it. The
    start of a stream queues the backlog and then the position, counted, before any live line."""
    hub = Hub(100, 1 << 20)
    publish(hub, lines(3))
    ch = hub.channel("a")
    s = sub()
    s.begin([("a", ch.tail(2, s.filter))], {"a": ch.position}, {})
    hub.subscribe(["a"], s)
    assert s.size > 0
    publish(hub, lines(1, start=3))
    assert events(s.take()) == [("line", "line 1"), ("line", "line 2"), ("id", str(ch_position(3))),
                                ("line", "line 3")]


def ch_position(lines_published: int) -> Cursor:
    return Cursor("a", "0123456789ab", lines_published * 10)


def test_catchup_overflow_counts_nothing_as_dropped_and_keeps_position() -> None:
    hub = Hub(1000, 1 << 20)
    s = sub(queue_bytes=300)
    hub.subscribe(["a"], s)
    for i in range(20):
        publish(hub, lines(1, start=i))
    assert hub.channel("a").stats.lines_dropped == 0
    assert hub.catching_up_count == 1
    queued = [k for kind, k in events(s.take()) if kind == "line"]
    assert s.lagging["a"] == Cursor("a", "0123456789ab", len(queued) * 10)


def test_multi_log_mark_does_not_move_another_logs_cursor_back() -> None:
    """A position id queued for one log is encoded when taken, after the lines queued before it: the vector
    it carries holds the other logs' cursors as they are then, never older ones."""
    hub = Hub(100, 1 << 20)
    s = sub(["a", "b"], multi=True)
    hub.subscribe(["a", "b"], s)
    s.begin([], {"a": None, "b": None}, {"b": Cursor("b", "0123456789ab", 0)})
    publish(hub, lines(1, log="a"), "a")
    chb = hub.channel("b")
    hub.publish("b", [Line("b", "b0", "0123456789ab", 10)], Cursor("b", "0123456789ab", 10))
    s.rejoin("b", [], chb.position, chb.stats)
    ids = [e["id"] for e in decode_events(s.take().decode()) if "id" in e]
    assert ids == ["a=0123456789ab:10,b=0123456789ab:10"]  # one id, closing the write


class Transport:
    """Stands in for a stream's direct writer (tested against real uvicorn in test_directwrite.py): records
    what it is given, or refuses everything as a paused transport does."""

    def __init__(self, accepts: bool = True) -> None:
        self.accepts = accepts
        self.written: list[bytes] = []

    def write(self, data: bytes) -> bool:
        if self.accepts:
            self.written.append(data)
        return self.accepts

    def clock(self) -> float:
        return 123.0


async def test_live_lines_go_straight_to_the_transport_only_while_the_writer_is_parked() -> None:
    """Regression guard for direct writes: bytes the writer holds (taken, then waiting for a paused transport
    to drain) must never be overtaken, so only a parked writer with an empty queue is bypassed."""
    hub = Hub(1000, 1 << 20)
    s = sub(fmt="text")
    transport = Transport()
    s.direct = transport  # type: ignore[assignment]
    hub.subscribe(["a"], s)
    publish(hub, lines(1))  # the writer is busy (no waiter): queued
    assert transport.written == [] and s.take() == b"line 0\n"
    s.waiter = asyncio.get_running_loop().create_future()
    publish(hub, lines(2, start=1))  # parked: straight to the transport, the writer stays asleep
    assert transport.written == [b"line 1\nline 2\n"] and not s.chunks and not s.waiter.done()
    assert s.last_sent == 123.0 and hub.channel("a").stats.lines_sent == 3
    transport.accepts = False  # paused: queued, and the writer woken to wait for the drain
    publish(hub, lines(1, start=3))
    assert s.waiter.done() and s.chunks
    transport.accepts = True  # resumed before the writer ran: still queued behind what it has to send
    publish(hub, lines(1, start=4))
    assert transport.written == [b"line 1\nline 2\n"]
    assert s.take() == b"line 3\nline 4\n"


def test_a_block_read_back_is_queued_as_its_lines_would_be() -> None:
    """Catch-up from the files (a block of clean bytes): one piece of frames, the same bytes as the block's
    lines queued one by one, in every format; with a filter, only the lines that pass."""
    from logtail.match.filters import LineFilter

    block = block_of([f"line {i}" for i in range(5)], 1000)
    reached = block.reached
    for fmt in ("sse", "text", "ndjson"):
        fast, slow = sub(fmt=fmt), sub(fmt=fmt)
        hub = Hub(100, 1 << 20)
        for s in (fast, slow):
            hub.subscribe(["a"], s)
            s.lag("a")
        fast.catch_up("a", block, reached, hub.channel("a").stats)
        slow.catch_up("a", list(block.lines), reached, hub.channel("a").stats)
        assert fast.take() == slow.take() and fast.lagging["a"] == slow.lagging["a"] == reached
    picky, hub = sub(flt=LineFilter(q="line 3")), Hub(100, 1 << 20)
    hub.subscribe(["a"], picky)
    picky.lag("a")
    picky.catch_up("a", block, reached, hub.channel("a").stats)
    assert texts(picky.take()) == ["line 3"]


def test_a_multi_log_ndjson_queue_counts_the_whole_stream_id_of_each_row() -> None:
    """Each row of a multi-log NDJSON stream carries every log's cursor: its queue bound counts them, so a
    write stays near `queue_bytes` however many logs the stream has."""
    logs = [f"log{i}.log" for i in range(100)]
    s = Subscription(logs, LineFilter(), "ndjson", 1 << 20, multi=True)
    s.begin([], {name: Cursor(name, "0123456789ab", 10) for name in logs}, {})
    s.take()
    for i in range(10_000):
        s.push_lines(logs[i % 100], [Line(logs[i % 100], f"line {i}", "0123456789ab", 20 + i)], LogStats())
        if s.lagging:
            break
    assert s.lagging, "the queue never filled"
    assert len(s.take()) <= 2 * (1 << 20)
