"""Whole lines of a file in bounded blocks, forwards or backwards, and the context lines around a hit.

Lines are what `lines.LineSplitter` makes of the file: split at `\\n`, a trailing CR dropped, cut at
`max_line_bytes` on a character boundary and then flagged `truncated`. Memory is bounded by the block
size plus one capped line, however long a line is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from logtail.core.lines import decode_capped, kept_bytes

BLOCK = 1024 * 1024
CONTEXT_READ = 256  # first guess of a line's length when reading context around a hit
CONTEXT_BUDGET = 4 * 1024 * 1024  # most bytes read around one hit for its context lines


@dataclass(frozen=True, slots=True)
class Block:
    """Whole lines of a file: `data` is lines each ending in `\\n`, the first starting at offset `base`.

    A block may instead hold one line whose bytes do not map onto the file: a line longer than the cap
    (only its first bytes are kept, `overflowed`) or a last line without a newline. Its real end offset is
    then `end`.
    """

    base: int
    data: bytes
    end: int | None = None
    overflowed: bool = False

    def line_start(self, start: int) -> int:
        """File offset of the line starting at data position `start`."""
        return self.base if self.end is not None else self.base + start

    def line_end(self, stop: int) -> int:
        """File offset just after the line whose newline is at data position `stop`."""
        return self.end if self.end is not None else self.base + stop + 1

    def slice(self, start: int, stop: int) -> Block:
        if self.end is not None:
            return self if stop > start else Block(self.base, b"")
        return Block(self.base + start, self.data[start:stop])


def _lone(start: int, raw: bytes, end: int, length: int, cap: int) -> Block:
    keep = kept_bytes(cap)
    return Block(start, raw[:keep] + b"\n", end, length > keep)


# --- blocks ------------------------------------------------------------------------------------------

def forward_blocks(read: Callable[[int, int], bytes], lo: int, hi: int | None, cap: int, *, tail: bool,
                   block: int = BLOCK) -> Iterator[tuple[list[Block], int]]:
    """Blocks of the lines in [lo, hi) in file order, one read of at most `block` bytes per step.

    Yields (blocks, offset reached). `lo` must be a line start; `hi` None reads to the end. A last line
    without a newline is included only with `tail` (a file nobody writes any more).
    """
    keep = kept_bytes(cap)  # bytes of an unfinished line worth keeping
    pos = lo
    carry, carry_len = b"", 0  # the unfinished line: its first bytes, and its full length so far
    while hi is None or pos < hi:
        data = read(pos, block if hi is None else min(block, hi - pos))
        if not data:
            break
        at, pos = pos, pos + len(data)
        first = data.find(b"\n")
        if first < 0:
            carry = carry + data[: max(0, keep - len(carry))]
            carry_len += len(data)
            yield [], pos
            continue
        out = []
        begin = 0
        if carry_len:
            length = carry_len + first
            raw = carry + data[: min(first, max(0, keep - len(carry)))]
            out.append(_lone(at - carry_len, raw, at + first + 1, length, cap))
            begin = first + 1
        last = data.rfind(b"\n")
        if begin <= last:
            out.append(Block(at + begin, data[begin : last + 1]))
        carry = data[last + 1 : last + 1 + keep]
        carry_len = len(data) - last - 1
        yield out, pos
    if carry_len and tail:
        yield [_lone(pos - carry_len, carry, pos, carry_len, cap)], pos


def backward_blocks(fd: int, lo: int, hi: int, cap: int, *, tail: bool,
                    block: int = BLOCK) -> Iterator[tuple[list[Block], int]]:
    """Blocks of the lines in [lo, hi) of a plain file, newest first, one read per step.

    Yields (blocks, offset reached going down). Within a step the blocks come newest first; the lines
    inside a block are in file order.
    """
    keep = kept_bytes(cap)
    end = hi
    # The pending line is the one that ends at `pend_end`, of which the bytes from `end` on have been read:
    # `suffix` (kept while short) and its length.
    pend_end, pend_nl, suffix, suffix_len = hi, False, b"", 0
    while end > lo:
        start = max(lo, end - block)
        data = os.pread(fd, end - start, start)
        if len(data) != end - start:
            raise FileShrank(f"the file shrank to {start + len(data)} bytes while being read")
        last = data.rfind(b"\n")
        if last < 0 and start > lo:  # the whole read is inside the pending line
            suffix_len += len(data)
            suffix = data + suffix if suffix_len <= keep + 1 else b""
            end = start
            yield [], start
            continue
        out = []
        line_start = start + last + 1
        length = pend_end - line_start - (1 if pend_nl else 0)
        if (pend_nl or tail) and (length > 0 or pend_nl):
            # A long line's first bytes are read again: only its end was kept on the way down.
            raw = os.pread(fd, keep, line_start) if length > keep else (data[last + 1 :] + suffix)[:length]
            out.append(_lone(line_start, raw, pend_end, length, cap))
        first = 0 if start == lo else data.find(b"\n") + 1
        if first <= last:
            out.append(Block(start + first, data[first : last + 1]))
        pend_end, pend_nl, suffix, suffix_len = start + first, True, data[:first], first
        end = start
        yield out, start


class FileShrank(OSError):
    """A file got shorter than it was when opened (truncated) while it was being read."""


def clip(block: Block, lo: int, end_max: int | None) -> tuple[int, int, bool]:
    """Data positions [a, b) of the lines of `block` that start at or after `lo` and end at or before
    `end_max`, and whether the block lies wholly past `end_max`."""
    if block.end is not None:
        inside = block.base >= lo and (end_max is None or block.end <= end_max)
        return 0, len(block.data) if inside else 0, end_max is not None and block.end > end_max
    data = block.data
    a = 0
    if block.base < lo:
        k = lo - block.base
        a = len(data) if k >= len(data) else k if data[k - 1] == 0x0A else data.find(b"\n", k) + 1
    b = len(data)
    if end_max is not None and block.base + len(data) > end_max:
        b = data.rfind(b"\n", 0, max(0, end_max - block.base)) + 1
    return a, max(a, b), end_max is not None and block.base >= end_max


# --- context lines around a hit in a plain file --------------------------------------------------------

def lines_before(fd: int, start: int, n: int, cap: int) -> list[str]:
    """Up to `n` lines ending at offset `start` (a line start), in file order."""
    if n <= 0:
        return []
    buf, pos, step = b"", start, CONTEXT_READ * n  # reads grow from a guess of the lines' length
    while pos > 0 and buf.count(b"\n") <= n and len(buf) < CONTEXT_BUDGET:
        step = min(step, pos)
        pos -= step
        buf = os.pread(fd, step, pos) + buf
        step *= 4
    lines = buf.split(b"\n")[:-1]
    if pos > 0:
        lines = lines[1:]  # the first piece may be the end of a longer line
    return [decode_capped(line, cap)[0] for line in lines[-n:]]


def lines_after(fd: int, end: int, n: int, cap: int, size: int, *, tail: bool) -> list[str]:
    """Up to `n` lines starting at offset `end`, not past `size`; a last line without newline only with
    `tail`."""
    if n <= 0:
        return []
    buf, pos, step = b"", end, CONTEXT_READ * n
    while pos < size and buf.count(b"\n") < n and len(buf) < CONTEXT_BUDGET:
        data = os.pread(fd, min(step, size - pos), pos)
        if not data:
            break
        buf += data
        pos += len(data)
        step *= 4
    lines = buf.split(b"\n")
    rest = lines.pop()
    if tail and rest and pos >= size:
        lines.append(rest)
    return [decode_capped(line, cap)[0] for line in lines[:n]]
