"""Scanning files for lines fast: blocks of whole lines, forwards or backwards, and a prefilter over bytes.

A search must not decode and test every line of a gigabyte file: `Matcher` first looks for candidates in a
whole block of bytes (`bytes.find` for a substring, one RE2 search for a regex, the level words for a level
filter) and only decodes and tests the lines it lands on, with exactly the `LineFilter` the stream uses.
The prefilter may report lines that do not match, never miss one that does; where that cannot be
guaranteed for a block (invalid UTF-8 or CRLF under a regex, non-ASCII text under `ignore_case`), the
block's lines are all tested.

Lines are what `lines.LineSplitter` makes of the file: split at `\\n`, a trailing CR dropped, cut at
`max_line_bytes` on a character boundary and then flagged `truncated`. Memory is bounded by the block
size plus one capped line, however long a line is.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import re2

from .filters import LineFilter
from .levels import SYNONYMS, detect_level
from .lines import cut_at_char_boundary

BLOCK = 1024 * 1024
CONTEXT_READ = 256  # first guess of a line's length when reading context around a hit
CONTEXT_BUDGET = 4 * 1024 * 1024  # most bytes read around one hit for its context lines

# Words that make `detect_level` report each level (a key's value or a word of the text); a line of a level
# contains one.
_LEVEL_WORDS = {level: tuple(w for w, of in SYNONYMS.items() if of == level) for level in set(SYNONYMS.values())}
# Patterns whose per-line meaning changes when searched over a block of many lines: \A, \z, (?-m).
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.@-]+")
_UNBLOCKABLE = re.compile(r"\\[Az]|\(\?[a-zA-Z]*-[a-zA-Z]*m")


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


def decode_capped(raw: bytes, cap: int, overflowed: bool = False) -> tuple[str, bool]:
    """A line's text as the follower makes it (see `lines._make_line`), and whether it was cut."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if overflowed or len(raw) > cap:
        return cut_at_char_boundary(raw, cap).decode("utf-8", "replace"), True
    return raw.decode("utf-8", "replace"), False


def _lone(start: int, raw: bytes, end: int, length: int, cap: int) -> Block:
    overflowed = length > cap + 4
    return Block(start, raw[: cap + 4] + b"\n", end, overflowed)


# --- blocks ------------------------------------------------------------------------------------------

def forward_blocks(read: Callable[[int, int], bytes], lo: int, hi: int | None, cap: int, *, tail: bool,
                   block: int = BLOCK) -> Iterator[tuple[list[Block], int]]:
    """Blocks of the lines in [lo, hi) in file order, one read of at most `block` bytes per step.

    Yields (blocks, offset reached). `lo` must be a line start; `hi` None reads to the end. A last line
    without a newline is included only with `tail` (a file nobody writes any more).
    """
    keep = cap + 4  # bytes of an unfinished line worth keeping (the cap, plus room for a CR)
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
    keep = cap + 4
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


# --- matching ------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Hit:
    start: int  # data positions of the line, without its newline
    stop: int
    text: str
    level: str | None
    truncated: bool


def _options(ignore_case: bool) -> Any:
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = not ignore_case
    return options


class Matcher:
    """Finds the lines of a block that pass a `LineFilter`, through a prefilter over the block's bytes."""

    def __init__(self, line_filter: LineFilter, cap: int) -> None:
        self.filter = line_filter
        self.cap = cap
        f = line_filter
        self.everything = f.is_empty
        self.needle = f.q.casefold() if f.ignore_case else f.q
        self.block_regex: Any = None
        self.text_regex: Any = None
        if f.regex and not f.q and not f.invert and not _UNBLOCKABLE.search(f.regex):
            try:
                self.block_regex = re2.compile(f"(?m)(?:{f.regex})".encode(), _options(f.ignore_case))
                self.text_regex = re2.compile(f"(?m)(?:{f.regex})", _options(f.ignore_case))
            except re2.error:
                self.block_regex = self.text_regex = None
        self.level_regex: Any = None
        if f.levels:
            words = sorted({w for level in f.levels for w in _LEVEL_WORDS[level]})
            self.level_regex = re2.compile(f"(?:{'|'.join(words)})".encode(), _options(True))
        # A line passing a field filter (other than `!:`) holds the key as written: JSON could only spell a
        # plain key differently with a \u escape.
        self.field_key = next((k.key.encode() for k in f.fields if k.op != "!:" and _PLAIN_KEY.fullmatch(k.key)),
                              None)

    def find(self, block: Block, want: int, newest: bool) -> tuple[list[Hit], bool]:
        """The matching lines of `block` in file order: the first `want`, or with `newest` the last `want`;
        and whether more matched."""
        if want <= 0 or not block.data:
            return [], False
        if self.everything:
            spans = _last_lines(block.data, want + 1) if newest else _first_lines(block.data, want + 1)
            hits = [self._hit(block, a, b) for a, b in spans]
        else:
            hits = []
            candidates = self._candidates(block.data)
            for a, b in reversed(list(candidates)) if newest else candidates:
                hit = self._test(block, a, b)
                if hit is not None:
                    hits.append(hit)
                    if len(hits) > want:
                        break
            if newest:
                hits.reverse()
        more = len(hits) > want
        return (hits[-want:] if newest else hits[:want]), more

    def _hit(self, block: Block, start: int, stop: int) -> Hit:
        text, truncated = decode_capped(block.data[start:stop], self.cap, block.overflowed)
        return Hit(start, stop, text, detect_level(text), truncated)

    def _test(self, block: Block, start: int, stop: int) -> Hit | None:
        text, truncated = decode_capped(block.data[start:stop], self.cap, block.overflowed)
        # The level is only worked out when the filter needs it or the line is a hit (it costs a regex).
        level = detect_level(text) if self.filter.levels else None
        if not self.filter.matches(text, level):
            return None
        return Hit(start, stop, text, level if self.filter.levels else detect_level(text), truncated)

    def _candidates(self, data: bytes) -> Iterator[tuple[int, int]]:
        """Spans (start, stop) of lines that may match, in order; every line when unsure."""
        f = self.filter
        if f.invert and f.q and not f.regex and "\r" not in f.q:
            searchable = self._searchable(data)
            if searchable is not None:
                yield from self._lines_without(*searchable)
                return
        find = self._finder(data)
        if find is None:
            yield from _all_lines(data)
            return
        pos, size = 0, len(data)
        while pos < size:
            i = find(pos)
            if i < 0 or i >= size:
                return
            start = data.rfind(b"\n", 0, i) + 1
            stop = data.find(b"\n", i)
            yield start, stop
            pos = stop + 1

    def _lines_without(self, haystack: bytes, needle: bytes) -> Iterator[tuple[int, int]]:
        """For an inverted substring: the lines where it does not occur. A line where it does is skipped
        unless longer than the cap (cut there, its text may have lost the occurrence)."""
        cap = self.cap
        lines = haystack.split(b"\n")
        lines.pop()  # the block ends with a newline
        keep = [i for i, line in enumerate(lines) if needle not in line or len(line) > cap]
        if keep:
            starts = [0, *itertools.accumulate(len(line) + 1 for line in lines)]
            for i in keep:
                yield starts[i], starts[i] + len(lines[i])

    def _searchable(self, data: bytes) -> tuple[bytes, bytes] | None:
        """Bytes of the block in which `q` occurs exactly where it occurs in the lines' text, and `q` as
        bytes; None when that cannot be had cheaply."""
        f = self.filter
        if not f.ignore_case:
            return None if "\ufffd" in f.q else (data, f.q.encode())  # U+FFFD: text differs from bytes
        if data.isascii():  # on ASCII text casefold() is lower(), so bytes.lower() finds every occurrence
            return data.lower(), self.needle.encode()
        return None

    def _finder(self, data: bytes) -> Callable[[int], int] | None:
        """A function from a position to the next candidate position (-1: none left), or None to test
        every line."""
        f = self.filter
        if f.invert or not (f.q or self.block_regex is not None):
            return self._level_finder(data)
        if f.q:
            searchable = self._searchable(data)
            if searchable is not None:
                haystack, needle = searchable
                return lambda pos: haystack.find(needle, pos)
            return None if self.needle in data.decode("utf-8", "replace").casefold() else _nowhere
        # A regex over the block's bytes sees the lines as the filter does only if they are valid UTF-8
        # (RE2 matches no character in invalid bytes) and have no CR before the newline (for `$`).
        if b"\r\n" not in data and _is_utf8(data):
            regex = self.block_regex
            return lambda pos: _match_start(regex.search(data, pos))
        text = data.decode("utf-8", "replace").replace("\r\n", "\n")
        return None if self.text_regex.search(text) else _nowhere

    def _level_finder(self, data: bytes) -> Callable[[int], int] | None:
        if self.level_regex is None:
            return self._key_finder(data)
        # Non-ASCII text may spell a level word in other case forms; colour codes may split the word.
        if not data.isascii() or b"\x1b" in data:
            return None
        regex = self.level_regex
        return lambda pos: _match_start(regex.search(data, pos))


    def _key_finder(self, data: bytes) -> Callable[[int], int] | None:
        key = self.field_key
        if key is None or b"\\u" in data:
            return None
        return lambda pos: data.find(key, pos)


def _nowhere(pos: int) -> int:
    return -1


def _match_start(m: Any) -> int:
    return -1 if m is None else int(m.start())


def _is_utf8(data: bytes) -> bool:
    if data.isascii():
        return True
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def _all_lines(data: bytes, pos: int = 0, size: int | None = None) -> Iterator[tuple[int, int]]:
    size = len(data) if size is None else size
    while pos < size:
        stop = data.find(b"\n", pos)
        yield pos, stop
        pos = stop + 1


def _first_lines(data: bytes, n: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for span in _all_lines(data):
        spans.append(span)
        if len(spans) == n:
            break
    return spans


def _last_lines(data: bytes, n: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    stop = len(data) - 1
    while stop >= 0 and len(spans) < n:
        start = data.rfind(b"\n", 0, stop) + 1
        spans.append((start, stop))
        stop = start - 1
    return spans[::-1]
