"""The hub: window, fan-out with shared chunks, filters evaluated per distinct filter, overflow policy."""

from __future__ import annotations

import json
from typing import get_args

from logtail.core.cursor import Cursor
from logtail.core.frames import Format, Line
from logtail.core.hub import MIN_WINDOW_LINES, Hub
from logtail.match.filters import CHUNK_CHARS, CHUNK_PATTERNS, LineFilter
from tests.hub_support import block_of, lines, publish, publish_texts, sub, texts
from tests.sse_client import decode_events


def test_window_is_bounded_and_resumable() -> None:
    hub = Hub(window_lines=5, queue_bytes=1 << 20)
    publish(hub, lines(8))
    ch = hub.channel("a")
    assert [x.text for x in ch.recent()] == [f"line {i}" for i in range(3, 8)]
    assert [x.text for x in ch.lines_after(Cursor("a", "0123456789ab", 50)) or []] == ["line 5", "line 6", "line 7"]
    assert ch.lines_after(Cursor("a", "0123456789ab", 20)) is None  # evicted: not in the window


def test_tail_counts_matching_lines() -> None:
    hub = Hub(100, 1 << 20)
    publish(hub, lines(10))
    tail = hub.channel("a").tail(2, LineFilter(q="line 1"))
    assert [x.text for x in tail] == ["line 1"]
    assert [x.text for x in hub.channel("a").tail(3, LineFilter())] == ["line 7", "line 8", "line 9"]


def test_subscribers_with_same_filter_share_one_chunk() -> None:
    hub = Hub(100, 1 << 20)
    s1, s2, s3 = sub(), sub(), sub(flt=LineFilter(q="line 1"))
    for s in (s1, s2, s3):
        hub.subscribe(["a"], s)
    publish(hub, lines(3))
    assert s1.chunks[0] is s2.chunks[0]
    assert texts(s1.take()) == ["line 0", "line 1", "line 2"]
    assert texts(s3.take()) == ["line 1"]


def test_filter_is_evaluated_once_per_line_per_distinct_filter() -> None:
    calls = 0

    class Counting(LineFilter):
        def matches(self, text: str, level: str | None, *shared: object) -> bool:  # type: ignore[override]
            nonlocal calls
            calls += 1
            return True

    hub = Hub(100, 1 << 20)
    flt = Counting(q="x")
    for _ in range(50):
        hub.subscribe(["a"], sub(flt=flt))
    publish(hub, lines(4))
    assert calls == 4


def test_overflow_skips_ahead_with_exact_gap_count() -> None:
    hub = Hub(1000, 1 << 20)
    slow = sub(queue_bytes=300, overflow="skip")
    hub.subscribe(["a"], slow)
    for i in range(20):
        publish(hub, lines(1, start=i))
    data = slow.take()
    received = texts(data)
    gaps = [json.loads(e["data"]) for e in decode_events(data.decode()) if e.get("event") == "notice"]
    assert len(gaps) == 1 and gaps[0]["kind"] == "gap"
    assert len(received) + gaps[0]["missed"] == 20
    assert received == [f"line {i}" for i in range(len(received))]
    assert hub.channel("a").stats.lines_dropped == gaps[0]["missed"]
    publish(hub, lines(1, start=20))
    assert texts(slow.take()) == ["line 20"]


def test_multi_log_ids_carry_every_logs_position() -> None:
    hub = Hub(100, 1 << 20)
    s = sub(["a", "b"], multi=True)
    hub.subscribe(["a", "b"], s)
    publish(hub, lines(1, log="a"), "a")
    publish(hub, lines(1, start=5, log="b"), "b")
    events = list(decode_events(s.take().decode()))
    assert [e.get("event") for e in events] == ["line", "line", None]  # line events carry no id of their own
    assert [e["id"] for e in events if "id" in e] == ["a=0123456789ab:10,b=0123456789ab:60"]  # the write's


def test_unsubscribe_removes_every_reference() -> None:
    hub = Hub(100, 1 << 20)
    s = sub(["a", "b"], multi=True)
    hub.subscribe(["a", "b"], s)
    assert hub.client_count == 1
    hub.unsubscribe(s)
    assert hub.client_count == 0
    assert all(not ch.subscribers for ch in hub.channels.values())


def test_close_all_sends_each_format_its_final_frame() -> None:
    hub = Hub(100, 1 << 20)
    subs = {fmt: sub(fmt=fmt) for fmt in get_args(Format)}
    for s in subs.values():
        hub.subscribe(["a"], s)
    final = {fmt: f"bye in {fmt}".encode() for fmt in subs}
    hub.close_all(final)
    assert {fmt: (s.closed, s.close_reason) for fmt, s in subs.items()} == {fmt: (True, final[fmt]) for fmt in subs}


def test_many_distinct_regexes_are_matched_as_one_set_with_the_same_results() -> None:
    """1,000 clients with 1,000 patterns: one RE2 set pass per line, same answers as one search each."""
    hub = Hub(100, 1 << 20)
    patterns = [f"line {i}$" for i in range(10)] + ["LINE [13]", "^line"]
    subs = {}
    for pattern in patterns:
        for ignore_case in (False, True):
            for invert in (False, True):
                flt = LineFilter(regex=pattern, ignore_case=ignore_case, invert=invert)
                subs[flt] = sub(flt=flt)
                hub.subscribe(["a"], subs[flt])
    publish(hub, lines(12))
    assert hub.channel("a").dispatch().regex_set is not None
    for flt, s in subs.items():
        expected = [x.text for x in lines(12) if flt.matches(x.text, None)]
        assert texts(s.take()) == expected, flt


def test_the_set_of_many_long_patterns_is_built_a_bounded_chunk_at_a_time_without_losing_a_line() -> None:
    """The hub's RE2 set of every client's pattern was rebuilt whole, on the event loop, at each new distinct
    filter (and RE2's wrapper holds the GIL while it compiles, so a thread would not help): 200 patterns of
    1,000 characters took 0.2-0.3 s. Now each build adds at most one bounded chunk and reuses the others;
    patterns waiting for a chunk are matched one by one, and every line published meanwhile reaches each
    client exactly once, as a search of its own pattern finds it."""
    hub = Hub(1000, 1 << 22)
    subs = {}
    for i in range(300):
        body = f"({i % 7}|x){{1}}" + "y?" * (400 if i % 3 == 0 else 5)  # a third of them long, all distinct
        flt = LineFilter(regex=f"line {i}{body}$", ignore_case=bool(i % 2))
        subs[flt] = sub(flt=flt)
        hub.subscribe(["a"], subs[flt])
    ch, published, at = hub.channel("a"), [], 140
    while ch.dispatch().pending:  # batches while patterns wait for a chunk: each builds one more
        batch = lines(3, at)
        publish(hub, batch)
        published += batch
        at += 3
        assert at < 140 + 3 * 50, "the set never took every pattern"
    regex_set = ch.dispatch().regex_set
    assert at > 143, "every pattern fit in one build"
    assert regex_set is not None and len(regex_set.slots) == 300
    for chunk in regex_set.chunks:
        assert len(chunk.slots) <= CHUNK_PATTERNS
        assert sum(len(flt.regex) for flt in chunk.slots) <= CHUNK_CHARS
    publish(hub, lines(140))  # more lines, through the sets alone
    published += lines(140)
    for flt, s in subs.items():
        expected = [x.text for x in published if flt.matches(x.text, None)]
        assert texts(s.take()) == expected, flt


def test_regex_set_with_only_case_insensitive_patterns() -> None:
    hub = Hub(100, 1 << 20)
    subs = [sub(flt=LineFilter(regex=f"LINE {i}$", ignore_case=True)) for i in range(5)]
    for s in subs:
        hub.subscribe(["a"], s)
    publish(hub, lines(5))
    assert [texts(s.take()) for s in subs] == [[f"line {i}"] for i in range(5)]


def test_window_of_blocks_drops_lines_from_its_oldest_block() -> None:
    """A block is kept until all of its lines are out of the window; the lines out of it are never given."""
    hub = Hub(window_lines=5, queue_bytes=1 << 20)
    at = publish_texts(hub, ["l0", "l1", "l2"], 300)  # ends 303, 306, 309
    at = publish_texts(hub, ["l3", "l4", "l5", "l6"], at)  # ends 312 ... 321
    ch = hub.channel("a")
    assert [x.text for x in ch.recent()] == ["l2", "l3", "l4", "l5", "l6"]
    assert ch.lines_after(Cursor("a", "0123456789ab", 306)) is None  # l1's line is out of the window
    assert [x.text for x in ch.lines_after(Cursor("a", "0123456789ab", 309)) or []] == ["l3", "l4", "l5", "l6"]
    assert [x.text for x in ch.lines_after(Cursor("a", "0123456789ab", 315)) or []] == ["l5", "l6"]
    assert ch.lines_after(Cursor("a", "0123456789ab", 314)) is None  # not a line's end
    assert ch.lines_after(Cursor("a", "ba9876543210", 315)) is None
    assert [x.text for x in ch.tail(3, LineFilter())] == ["l4", "l5", "l6"]
    assert [x.text for x in ch.tail(9, LineFilter(q="l"))] == ["l2", "l3", "l4", "l5", "l6"]
    publish(hub, [Line("a", "l7", "0123456789ab", 324)])  # a list of lines next to blocks of bytes
    assert len(ch.blocks) == 2 and [x.text for x in ch.recent()] == ["l3", "l4", "l5", "l6", "l7"]
    assert [x.text for x in ch.lines_after(Cursor("a", "0123456789ab", 321)) or []] == ["l7"]


def test_a_recurring_position_resumes_after_its_latest_line() -> None:
    """A rewritten file can bring a position back: the window answers with the newest line there."""
    hub = Hub(window_lines=100, queue_bytes=1 << 20)
    publish_texts(hub, ["old0", "old1"], 300)
    publish_texts(hub, ["new0", "new1", "new2"], 300)
    ch = hub.channel("a")
    assert [x.text for x in ch.lines_after(Cursor("a", "0123456789ab", 305)) or []] == ["new1", "new2"]


def test_a_block_goes_to_each_format_as_the_per_line_frames_would() -> None:
    hub = Hub(100, 1 << 20)
    subs = {fmt: sub(fmt=fmt) for fmt in get_args(Format)}
    filtered = sub(flt=LineFilter(q="warn"), fmt="text")
    for s in (*subs.values(), filtered):
        hub.subscribe(["a"], s)
    texts_in = ['x lvl=warn "q"', "é plain", "{}"]
    publish_texts(hub, texts_in, 1000)
    reference = block_of(texts_in, 1000).lines
    for fmt, s in subs.items():
        assert s.take() == b"".join(line.frame(fmt) for line in reference), fmt
    assert filtered.take() == b'x lvl=warn "q"\n'
    end = 1000 + len("".join(t + "\n" for t in texts_in).encode())
    assert subs["sse"].given["a"] == Cursor("a", "0123456789ab", end)



def test_the_logs_windows_share_the_nodes_total_as_logs_are_added() -> None:
    """`--window-total-lines`: each log keeps `--window-lines` while the node's logs fit in the total, then an
    equal share of it (at least MIN_WINDOW_LINES), trimmed as the log's next lines come; its newest lines stay."""
    hub = Hub(1000, 1 << 20, 2000)
    publish(hub, lines(1500))
    assert hub.channel("a").size == 1000
    for name in ("b", "c", "d"):
        hub.channel(name)
    assert hub.channel("a").size == 1000  # trimmed when a's next lines come
    publish(hub, lines(1, start=1500))
    assert hub.channel("a").size == 500
    assert [line.text for line in hub.channel("a").recent()][-1] == "line 1500"
    for i in range(40):
        hub.channel(f"x{i}")
    publish(hub, lines(1, start=1501))
    assert hub.channel("a").size == MIN_WINDOW_LINES  # 2000 // 44 is fewer
    assert Hub(1000, 1 << 20).windows.lines == 1000  # no total: --window-lines each, however many logs
