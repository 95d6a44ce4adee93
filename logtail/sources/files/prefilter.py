"""The prefilter: finding the lines of a block that pass a filter without decoding and testing every line.

A search must not decode and test every line of a gigabyte file: `Matcher` first looks for candidates in a
whole block of bytes (`bytes.find` for a substring, one RE2 search for a regex, the level words for a level
filter) and only decodes and tests the lines it lands on, with exactly the `LineFilter` the stream uses.
The prefilter may report lines that do not match, never miss one that does; where that cannot be
guaranteed for a block (invalid UTF-8 or CRLF under a regex, non-ASCII text under `ignore_case`), the
block's lines are all tested.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import re2

from logtail.core.lines import decode_capped
from logtail.match.filters import LineFilter
from logtail.match.levels import WORDS, Level, detect_level
from logtail.match.patterns import re2_options
from logtail.sources.files.scan import Block

# Patterns whose per-line meaning changes when searched over a block of many lines: \A, \z, (?-m).
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.@-]+")
_UNBLOCKABLE = re.compile(r"\\[Az]|\(\?[a-zA-Z]*-[a-zA-Z]*m")

@dataclass(frozen=True, slots=True)
class Hit:
    start: int  # data positions of the line, without its newline
    stop: int
    text: str
    level: Level | None
    truncated: bool


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
                self.block_regex = re2.compile(f"(?m)(?:{f.regex})".encode(), re2_options(f.ignore_case))
                self.text_regex = re2.compile(f"(?m)(?:{f.regex})", re2_options(f.ignore_case))
            except re2.error:
                self.block_regex = self.text_regex = None
        self.level_regex: Any = None
        if f.levels:
            words = sorted({w for level in f.levels for w in WORDS[cast(Level, level)]})  # checked by LineFilter
            self.level_regex = re2.compile(f"(?:{'|'.join(words)})".encode(), re2_options(True))
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
