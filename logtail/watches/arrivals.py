"""Published blocks waiting for the watches, joined to be evaluated together.

An idle server reads each followed file as soon as it changes: at 1,000 lines/s a log is published some
hundred times a second, about ten lines at a time. Evaluating a block costs mostly per block (decoding,
levels, one pass per distinct filter, the counters), so the engine keeps each log's published blocks for
`EVALUATE_DELAY` and evaluates them joined: the bytes of blocks that follow each other in one file as one
block. Each block keeps its arrival time and its place among every log's arrivals: its matches count at the
time it arrived and in that order (`runs`), as if it had been evaluated on its own when it arrived.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from logtail.core.block import LineBlock
from logtail.core.cursor import Cursor
from logtail.match.filters import LineFilter
from logtail.watches.blockfilter import Batch
from logtail.watches.counter import Run, Sampled

# How long a published block may wait to be evaluated: the alert latency it adds at most (the budget
# is 1 s), against the number of evaluations per second (one per log with lines per delay).
EVALUATE_DELAY = 0.1


@dataclass(slots=True)
class Arrival:
    """One published block of a log, waiting."""
    block: LineBlock  # as published: its lines are counted by level
    evaluated: LineBlock | None  # what the watches evaluate of it (None: nothing, e.g. its log catches up)
    position: Cursor | None  # once it is evaluated, the log's position (None: the position stays)
    at: float  # when it was published: its matches count at this time
    seq: int  # its place among the arrivals of every log


Part = tuple[int, Arrival]  # an arrival's first line in a joined block, and the arrival
T = TypeVar("T")


def joined(blocks: Iterable[tuple[LineBlock, T]]) -> list[tuple[LineBlock, list[tuple[int, T]]]]:
    """Consecutive blocks joined where they can be (clean bytes that follow each other in one file, or
    lists of lines), in order; each joined block with its parts: (its first line in it, its tag)."""
    out: list[tuple[list[LineBlock], list[tuple[int, T]]]] = []
    for block, tag in blocks:
        if out and _follows(out[-1][0][-1], block):
            kept, parts = out[-1]
            parts.append((parts[-1][0] + kept[-1].count, tag))
            kept.append(block)
        else:
            out.append(([block], [(0, tag)]))
    return [(_join(kept), parts) for kept, parts in out]


def _follows(before: LineBlock, block: LineBlock) -> bool:
    if before.data and block.data:
        return (block.fid == before.fid and block.start == before.start + len(before.data)
                and block.parser is before.parser)
    return not before.data and not block.data and block.parser is before.parser


def _join(blocks: list[LineBlock]) -> LineBlock:
    if len(blocks) == 1:
        return blocks[0]
    first = blocks[0]
    if first.data:
        return LineBlock.of_bytes(first.log, first.fid, first.start, b"".join(b.data for b in blocks), first.parser)
    return LineBlock.of_lines(first.log, [line for b in blocks for line in b.lines])


def runs(batch: Batch, flt: LineFilter, parts: list[Part]) -> list[tuple[int, Run]]:
    """The lines of `batch` that pass `flt`, as one run per part that has any: (its arrival's place, run)."""
    hits = batch.hits(flt)
    if not hits:
        return []
    out: list[tuple[int, Run]] = []
    lo = 0
    ends = [start for start, _ in parts[1:]] + [batch.count]
    for (_, arrival), end in zip(parts, ends, strict=True):
        hi = bisect_left(hits, end, lo)
        if hi > lo:
            out.append((arrival.seq, Run(arrival.at, hi - lo, partial(_records, batch, hits, hi))))
            lo = hi
    return out


def _records(batch: Batch, hits: list[int], end: int, k: int) -> list[Sampled]:
    """The last `k` matched lines before `hits[end]`."""
    return list(batch.lines(hits[end - k:end]))
