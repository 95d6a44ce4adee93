"""Finding a position in a log's window (positions.py, used by hub.Channel.lines_after): the same answer as
a walk over every line newest first, and, in a window of many small blocks, a look into one block only."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from logtail.core.block import LineBlock
from logtail.core.cursor import Cursor
from logtail.core.frames import Line
from logtail.core.hub import Hub
from logtail.core.positions import COMPACT_AFTER

FIDS = ["aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc"]


def reference(hub: Hub, cursor: Cursor) -> list[Line] | None:
    """The lines after the newest line in the window that ends at `cursor`, or None."""
    window = hub.channel("a").recent()
    for i in range(len(window) - 1, -1, -1):
        if (window[i].fid, window[i].end) == (cursor.fid, cursor.offset):
            return window[i + 1:]
    return None


# A batch: (as bytes?, file id, a restart of that file at offset 0?, line lengths)
batches = st.lists(st.tuples(st.booleans(), st.sampled_from(FIDS), st.booleans(),
                             st.lists(st.integers(1, 4), min_size=1, max_size=4)), min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(batches=batches, window=st.integers(1, 12), looks=st.sets(st.integers(0, 29)))
def test_lines_after_matches_a_walk_over_the_window(batches: list[tuple[bool, str, bool, list[int]]],
                                                    window: int, looks: set[int]) -> None:
    """Blocks of bytes and lists of lines, several files, files rewritten from the start (positions that
    recur), lines leaving the window: every position ever published, and a few that never were, give what
    a walk over the window's lines gives. Lookups also come between publishes (`looks`): blocks are indexed
    when a lookup needs them, so the window holds indexed blocks, blocks not indexed yet, or both, as blocks
    leave it."""
    hub = Hub(window_lines=window, queue_bytes=1 << 20)
    offsets = dict.fromkeys(FIDS, 0)
    published: set[tuple[str, int]] = set()
    for n, (as_bytes, fid, restart, lengths) in enumerate(batches):
        start = 0 if restart else offsets[fid]
        texts = ["x" * (n - 1) for n in lengths]
        ends = [start + sum(lengths[: i + 1]) for i in range(len(lengths))]
        if as_bytes:
            block = LineBlock.of_bytes("a", fid, start, "".join(t + "\n" for t in texts).encode())
        else:
            block = LineBlock.of_lines("a", [Line("a", t, fid, e) for t, e in zip(texts, ends, strict=True)])
        hub.publish("a", block, Cursor("a", fid, ends[-1]))
        offsets[fid] = ends[-1]
        published.update((fid, e) for e in ends)
        if n in looks:
            cursor = Cursor("a", fid, ends[0])
            assert hub.channel("a").lines_after(cursor) == reference(hub, cursor)
    ch = hub.channel("a")
    for fid, end in sorted(published | {(FIDS[0], 10_000), ("dddddddddddd", 1)}):
        cursor = Cursor("a", fid, end)
        got, want = ch.lines_after(cursor), reference(hub, cursor)
        assert (None if got is None else [(x.fid, x.end) for x in got]) == (
            None if want is None else [(x.fid, x.end) for x in want]), cursor


class CountingBlock(LineBlock):
    looked_into = 0

    def index_of(self, fid: str, end: int) -> int | None:
        CountingBlock.looked_into += 1
        return super().index_of(fid, end)


def test_a_position_deep_in_a_window_of_many_blocks_is_found_in_one_look() -> None:
    """A slow log: one line per read. A walk would look into thousands of blocks per lookup."""
    hub = Hub(window_lines=5000, queue_bytes=1 << 20)
    fid = FIDS[0]
    for i in range(6000):
        line = Line("a", f"line {i}", fid, (i + 1) * 10)
        hub.publish("a", CountingBlock("a", [line], b"", "", 0), Cursor("a", fid, line.end))
    ch = hub.channel("a")
    assert len(ch.blocks) == 5000
    CountingBlock.looked_into = 0
    after = ch.lines_after(Cursor("a", fid, 20_010))  # line 2000, the window's 1,001st
    assert after is not None and [x.text for x in after[:2]] == ["line 2001", "line 2002"] and len(after) == 3999
    assert CountingBlock.looked_into == 1
    assert ch.lines_after(Cursor("a", fid, 20_015)) is None  # not a line's end
    assert ch.lines_after(Cursor("a", fid, 1010)) is None  # line 100: out of the window
    assert CountingBlock.looked_into == 3


def test_blocks_gone_from_the_window_are_forgotten() -> None:
    """The index holds at most about twice the window's blocks, however long the log has run, and answers
    the same after forgetting."""
    hub = Hub(window_lines=3, queue_bytes=1 << 20)
    fid = FIDS[0]
    for i in range(1000):
        line = Line("a", f"line {i}", fid, (i + 1) * 10)
        hub.publish("a", LineBlock.of_lines("a", [line]), Cursor("a", fid, line.end))
        ch = hub.channel("a")
        spans = ch.positions.indexed().files[fid]
        assert i == 0 if isinstance(spans, tuple) else len(spans.seqs) <= 2 * len(ch.blocks) + COMPACT_AFTER
        assert [x.text for x in ch.lines_after(Cursor("a", fid, max(10, i * 10))) or []] == (
            [f"line {i}"] if i >= 1 else [])
    assert ch.lines_after(Cursor("a", fid, 9960)) is None  # line 995: gone
    assert [x.text for x in ch.lines_after(Cursor("a", fid, 9980)) or []] == ["line 998", "line 999"]


def test_blocks_are_indexed_only_when_a_lookup_needs_them() -> None:
    """Publishing indexes nothing: a window no lookup ever reads costs no index, and the blocks waiting to be
    indexed leave with the window. The first lookup indexes what is in the window, and answers as if every
    block had been indexed as it came."""
    hub = Hub(window_lines=3, queue_bytes=1 << 20)
    for i in range(1000):
        fid = f"{i:012x}"
        line = Line("a", f"line {i}", fid, 1)
        hub.publish("a", LineBlock.of_lines("a", [line]), Cursor("a", fid, 1))
    positions = hub.channel("a").positions
    assert positions.files == {} and len(positions.pending) == 3
    assert [x.text for x in hub.channel("a").lines_after(Cursor("a", f"{998:012x}", 1)) or []] == ["line 999"]
    assert len(positions.files) == 3 and not positions.pending
    assert hub.channel("a").lines_after(Cursor("a", f"{996:012x}", 1)) is None  # gone before it was indexed


def test_a_file_id_per_block_costs_no_more_than_its_block() -> None:
    """A shipped log: a file id per Redis entry, one line each. Each id is kept as one block's numbers (no
    `FileSpans`) while it is in one block only, forgotten with that block, and found in one look."""
    hub = Hub(window_lines=100, queue_bytes=1 << 20)
    for i in range(300):
        fid = f"{i:012x}"
        lines = [Line("a", f"line {i}", fid, (i << 20) + 1)]
        if i % 10 == 0:  # now and then an id's lines in two blocks: a FileSpans, dropped the same way
            lines.append(Line("a", f"line {i}b", fid, (i << 20) + 2))
            hub.publish("a", CountingBlock("a", lines[:1], b"", "", 0), Cursor("a", fid, lines[0].end))
            hub.publish("a", CountingBlock("a", lines[1:], b"", "", 0), Cursor("a", fid, lines[1].end))
            continue
        hub.publish("a", CountingBlock("a", lines, b"", "", 0), Cursor("a", fid, lines[0].end))
    ch = hub.channel("a")
    assert len(ch.positions.indexed().files) == len({line.fid for block in ch.blocks for line in block.lines}) <= 100
    assert sum(not isinstance(x, tuple) for x in ch.positions.files.values()) == 9  # 210, 220, ... 290
    CountingBlock.looked_into = 0
    for i, k in [(250, 1), (251, 1), (290, 2), (299, 1)]:
        cursor = Cursor("a", f"{i:012x}", (i << 20) + k)
        assert ch.lines_after(cursor) == reference(hub, cursor)
    after = ch.lines_after(Cursor("a", f"{250:012x}", (250 << 20) + 1))
    assert after is not None and [x.text for x in after[:2]] == ["line 250b", "line 251"]
    assert CountingBlock.looked_into == 5
    assert ch.lines_after(Cursor("a", f"{251:012x}", (251 << 20) + 2)) is None  # not a line's end
    assert ch.lines_after(Cursor("a", f"{100:012x}", (100 << 20) + 1)) is None  # gone from the window
