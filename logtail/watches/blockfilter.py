"""A filter evaluated over a whole published block at once, for the watches: which of its lines match.

The hub's fan-out asks each line whether it passes (`LineFilter.matches`), a Python call per line per
distinct filter. The watches run on every line of every watched log with no client connected, so here each
part of a filter narrows the block's line numbers in C-level passes instead: levels (detected for the whole
block once, `detect_levels`), the substring (`str.__contains__` mapped over the texts), and a pattern
searched over the block's bytes, in multi-line mode, once per line that holds a match rather than once per
line. Fields are parsed only for the lines left. The answers are `LineFilter.matches`'s, line for line
(tests/test_watch_blockfilter.py checks them against it).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from functools import cache
from itertools import accumulate, compress, repeat
from typing import Any

import re2

from logtail.core.block import LineBlock
from logtail.core.frames import Line
from logtail.match.fields import FieldCache
from logtail.match.filters import FilterError, LineFilter
from logtail.match.levels import Level, detect_levels
from logtail.match.patterns import compile_pattern, searcher

# A pattern whose meaning inside one line differs from its meaning inside a block of lines: text anchors
# (\A, \z) and a flag group that could turn multi-line mode off. Such a pattern is searched line by line.
_LINE_BOUND = re.compile(r"\\[Az]|\(\?[a-zA-Z-]*m")

# What a line with fields starts with (match.fields.parse_fields): "{" (JSON), or a logfmt pair's key and "=".
_MAY_HAVE_FIELDS = re.compile(r'\{|\s*[^\s="]+=')


class Batch:
    """One published block as the watches' filters see it: texts, levels and (clean bytes) the bytes."""

    def __init__(self, block: LineBlock) -> None:
        self.block = block
        self.count = block.count
        self.texts, joined = block.texts()
        self.levels: list[Level | None] = (
            detect_levels(self.texts, joined) if block.data and block.parser is None
            else [line.level for line in block.lines])
        self.parsed = FieldCache(None if block.parser is None else block.parser.fields)
        self._folded: list[str] | None = None
        self._starts: list[int] | None = None  # each line's first byte in block.data, and the end

    @property
    def folded(self) -> list[str]:
        if self._folded is None:
            self._folded = list(map(str.casefold, self.texts))
        return self._folded

    @property
    def starts(self) -> list[int]:
        if self._starts is None:
            self._starts = list(accumulate(map((1).__add__, map(len, self.block.data.split(b"\n")[:-1])),
                                           initial=0))
        return self._starts

    def lines(self, indexes: list[int]) -> list[Line]:
        """The lines at `indexes` (of a block of bytes whose lines are not built yet, only those)."""
        block = self.block
        if not block.data:
            return [block.lines[i] for i in indexes]
        starts = self.starts
        return [Line(block.log, self.texts[i], block.fid, block.start + starts[i + 1], False, block.parser)
                for i in indexes]

    def hits(self, flt: LineFilter) -> list[int]:
        """The numbers of the lines that pass `flt`, in order."""
        every = range(self.count)
        if flt.is_empty:
            return list(every)
        data = self.block.data
        if data and flt.q and not (flt.invert or flt.ignore_case) and flt.q.encode() not in data:
            return []  # clean bytes without the substring: no line of them holds it
        found: list[int] | range = every
        if flt.levels:
            found = list(compress(every, map(flt.levels.__contains__, self.levels)))
        if flt.q or flt.regex:
            text_hits = self._text_hits(flt, found)
            if flt.invert:
                passed = set(text_hits)
                found = [i for i in found if i not in passed]
            else:
                found = text_hits
        if flt.fields and found and self.block.data and self.block.parser is None:
            # A plain text line has no fields, and a field filter passes no line without: only a line that
            # starts like JSON or a logfmt pair is parsed.
            texts = self.texts
            found = list(compress(found, map(_MAY_HAVE_FIELDS.match, map(texts.__getitem__, found))))
        if flt.fields:
            fields_only = _fields_only(flt)
            texts, parsed = self.texts, self.parsed
            found = [i for i in found if fields_only.matches(texts[i], None, None, parsed)]
        return list(found)

    def _text_hits(self, flt: LineFilter, among: list[int] | range) -> list[int]:
        """Of the lines `among`, those whose text holds the substring and the pattern (not inverted)."""
        found = list(among)
        if flt.q:
            texts = self.folded if flt.ignore_case else self.texts
            needle = flt.q.casefold() if flt.ignore_case else flt.q
            held = map(str.__contains__, texts if len(found) == self.count else map(texts.__getitem__, found),
                       repeat(needle))
            found = list(compress(found, held))
        if flt.regex and found:
            whole = _block_pattern(flt.regex, flt.ignore_case)
            if whole is not None and self.block.data and len(found) == self.count:
                found = self._searched(whole, _line_searcher(flt.regex, flt.ignore_case))
            else:
                one = _line_searcher(flt.regex, flt.ignore_case)
                texts = self.texts
                found = [i for i in found if one(texts[i])]
        return found

    def _searched(self, whole: Any, one: Callable[[str], bool]) -> list[int]:
        """The lines in which `whole` (the pattern in multi-line mode) is found, searching the block's
        bytes from each line after a match: one search per matching line, not one per line."""
        data, count = self.block.data, self.count
        found: list[int] = []
        m = whole.search(data)
        if m is None:
            return found  # most batches: no line starts need finding
        starts = self.starts
        while True:
            i = bisect_right(starts, m.start()) - 1
            if i >= count:
                return found
            # A match that ends inside line i is a match in line i alone (^, $ and \b see the newline as
            # a line's edge); one that runs on past it (\s, [^x] take a newline) is checked on the line.
            if m.end() < starts[i + 1] or one(self.texts[i]):
                found.append(i)
            pos = starts[i + 1]
            m = whole.search(data, pos) if pos < len(data) else None
            if m is None:
                return found


@cache
def _fields_only(flt: LineFilter) -> LineFilter:
    return LineFilter(fields=flt.fields)


@cache
def _line_searcher(pattern: str, ignore_case: bool) -> Callable[[str], bool]:
    return searcher(pattern, ignore_case)


@cache
def _block_pattern(pattern: str, ignore_case: bool) -> Any:
    """The pattern in multi-line mode, to search a block of lines; None when it cannot stand for it."""
    if _LINE_BOUND.search(pattern):
        return None
    try:
        return compile_pattern("(?m)" + pattern, ignore_case)
    except (FilterError, re2.error):
        return None
