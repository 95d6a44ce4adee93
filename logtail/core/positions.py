"""Where a position is in a log's window: found by bisection, not by walking the window's blocks.

A resume (`Last-Event-ID`) and every catch-up step from the window look up the line a cursor names. The
window keeps the blocks lines were published in (hub.py, block.py); a slow log's blocks hold one line or a
few, so a 10,000-line window can be thousands of blocks, and a walk over them per lookup would hold the
event loop for milliseconds, once per reconnecting client.

So for each file id the window's blocks holding lines of that file are listed in order, each with the end
of its last line of that file. Within one file positions only grow, and the block a position is in is the
first whose last end is not below it. A file id whose positions do not grow (a file rewritten from the
start, or two files with the same first bytes: cursor.py) is marked `ordered = False`, and all of its blocks
are candidates, newest first: a position that recurs means its latest line.

Blocks are indexed when a lookup needs them, not as they are published: most blocks of a busy window are
never looked up (a lookup is a resume or a catch-up step), and indexing each as it came cost a node serving a
fleet's 1,000 quiet shipped logs a tenth of its CPU (bench/RESULTS.md). A lookup first indexes the blocks
published since the one before it, at most a window's blocks, each once.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from typing import NamedTuple

from logtail.core.block import LineBlock

# Entries of blocks gone from the window are dropped from a file's list in one slice once they are this many
# and half of it: each block costs O(1) amortised to forget.
COMPACT_AFTER = 64


class FileSpans:
    """One file's blocks in the window: their sequence numbers and the end of the file's last line in each."""

    __slots__ = ("dropped", "lasts", "ordered", "seqs")

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.lasts: list[int] = []
        self.dropped = 0  # entries at the front that belong to blocks gone from the window
        self.ordered = True

    @classmethod
    def of_one(cls, seq: int, last: int, ordered: bool) -> FileSpans:
        spans = cls()
        spans.seqs.append(seq)
        spans.lasts.append(last)
        spans.ordered = ordered
        return spans

    def add(self, seq: int, span: Span) -> None:
        if not span.ordered or (self.lasts and span.first <= self.lasts[-1]):
            self.ordered = False
        self.seqs.append(seq)
        self.lasts.append(span.last)

    def drop_oldest(self) -> None:
        self.dropped += 1
        if self.dropped >= COMPACT_AFTER and 2 * self.dropped >= len(self.seqs):
            del self.seqs[: self.dropped], self.lasts[: self.dropped]
            self.dropped = 0

    @property
    def empty(self) -> bool:
        return self.dropped == len(self.seqs)

    def candidates(self, end: int) -> list[int]:
        """The sequence numbers of the blocks that can hold the line ending at `end`, newest first."""
        if not self.ordered:
            return self.seqs[self.dropped:][::-1]
        i = bisect_left(self.lasts, end, lo=self.dropped)
        return [self.seqs[i]] if i < len(self.seqs) else []


# A file id seen in one block of the window so far: that block's number, the end of the file's last line in
# it and whether its ends only grow. A shipped log's lines have a file id per Redis entry (keys.py), so most
# of its file ids are in one block: a tuple of numbers is no object for the garbage collector to go through,
# where a `FileSpans` is three.
OneBlock = tuple[int, int, bool]


class PositionIndex:
    """Every file id in a window, with its blocks (`FileSpans`, or `OneBlock` while there is one). Blocks
    are numbered in the order they enter the window; the index keeps which files each block still in the
    window holds, oldest first."""

    __slots__ = ("block_files", "files", "next", "pending")

    def __init__(self) -> None:
        self.files: dict[str, FileSpans | OneBlock] = {}
        self.block_files: deque[tuple[str, ...]] = deque()  # the files of each indexed block in the window
        self.pending: deque[LineBlock] = deque()  # the window's newer blocks, not indexed yet
        self.next = 0

    @property
    def first(self) -> int:
        """The number of the oldest block still in the window."""
        return self.next - len(self.block_files)

    def add(self, block: LineBlock) -> None:
        self.pending.append(block)

    def indexed(self) -> PositionIndex:
        """The index with every block of the window in it."""
        while self.pending:
            self._index(self.pending.popleft())
        return self

    def _index(self, block: LineBlock) -> None:
        seq = self.next
        self.next += 1
        spans_of = _spans(block)
        files = self.files
        for fid, span in spans_of.items():
            spans = files.get(fid)
            if spans is None:
                files[fid] = (seq, span.last, span.ordered)
                continue
            if isinstance(spans, tuple):
                spans = files[fid] = FileSpans.of_one(*spans)
            spans.add(seq, span)
        self.block_files.append(tuple(spans_of))

    def drop_oldest(self) -> None:
        """The oldest block has left the window."""
        if not self.block_files:  # it was never indexed: it only takes its number with it
            self.pending.popleft()
            self.next += 1
            return
        for fid in self.block_files.popleft():
            spans = self.files[fid]
            if isinstance(spans, tuple):  # this block was its only one
                del self.files[fid]
                continue
            spans.drop_oldest()
            if spans.empty:
                del self.files[fid]

    def candidates(self, fid: str, end: int) -> list[int]:
        """The indexes in the window of the blocks that can hold the line ending at (`fid`, `end`), newest
        first: one at most, unless the file's positions recur."""
        spans = self.indexed().files.get(fid)
        if spans is None:
            return []
        if isinstance(spans, tuple):  # one block: the block itself tells whether the line is in it
            return [spans[0] - self.first]
        return [seq - self.first for seq in spans.candidates(end)]


class Span(NamedTuple):
    """One file's lines in one block: where the first and the last end, and whether their ends only grow."""

    first: int
    last: int
    ordered: bool = True


def _spans(block: LineBlock) -> dict[str, Span]:
    """Each file id's lines in `block`."""
    if block.data:  # one file, clean lines: the first ends after `start`, the last at the end of the bytes
        return {block.fid: Span(block.start + 1, block.start + len(block.data))}
    if block.count == 1:  # a quiet log's block
        ((fid, end),) = block.ends()
        return {fid: Span(end, end)}
    firsts: dict[str, int] = {}
    lasts: dict[str, int] = {}
    unordered: set[str] = set()
    for fid, end in block.ends():
        last = lasts.get(fid)
        if last is None:
            firsts[fid] = end
        elif end <= last:
            unordered.add(fid)
        lasts[fid] = end
    return {fid: Span(firsts[fid], last, fid not in unordered) for fid, last in lasts.items()}
