"""Line filters chosen by clients: substring, RE2 regex, ignore case, invert, log levels and fields.

Filters are values (frozen, hashable) so the hub can evaluate each distinct filter once per line however
many clients share it. User patterns run on RE2: linear time, so `(a+)+$` cannot stall the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import re2

from logtail.match.fields import FieldCache, FieldFilter, Fields, parse_fields
from logtail.match.levels import LEVELS
from logtail.match.patterns import SET_MAX_MEM, FilterError, compile_pattern, re2_options

__all__ = ["FilterError", "LineFilter", "RegexSet"]  # FilterError is imported from here too

MAX_PATTERN_CHARS = 1000


@dataclass(frozen=True)
class LineFilter:
    q: str = ""
    regex: str = ""
    ignore_case: bool = False
    invert: bool = False
    levels: frozenset[str] = field(default_factory=frozenset)
    fields: tuple[FieldFilter, ...] = ()  # all must hold (see fields.parse_field_filters)
    _hash: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.q, self.regex, self.ignore_case, self.invert, self.levels,
                                                   self.fields)))
        for name, value in (("q", self.q), ("regex", self.regex)):
            if len(value) > MAX_PATTERN_CHARS:
                raise FilterError(f"{name} is longer than {MAX_PATTERN_CHARS} characters")
        unknown = self.levels - set(LEVELS)
        if unknown:
            raise FilterError(f"level: unknown level {sorted(unknown)[0]!r} (use {', '.join(LEVELS)})")
        if self.regex:
            self._pattern  # noqa: B018 - compile now so a bad pattern fails the request, not the stream

    @property
    def is_empty(self) -> bool:
        return not (self.q or self.regex or self.levels or self.fields)

    @property
    def regex_only(self) -> bool:
        """A line passes exactly when the regex is found (so a set match answers it alone)."""
        return bool(self.regex) and not (self.q or self.levels or self.invert or self.fields)

    @cached_property
    def _pattern(self) -> Any:
        return compile_pattern(self.regex, self.ignore_case)

    @cached_property
    def _needle(self) -> str:
        return self.q.casefold() if self.ignore_case else self.q

    def matches(self, text: str, level: str | None, regex_hit: bool | None = None,
                parsed: FieldCache | None = None,
                parse: Callable[[str], Fields | None] = parse_fields) -> bool:
        """True when the line passes. `invert` applies to the text match; levels and fields always hold.

        `regex_hit` is the regex's answer when it was already computed for many filters at once (RegexSet);
        `parsed` holds the fields of the batch's lines, shared by its filters (each line parsed once); without
        it, `parse` finds the line's fields (a log's parser: `Line.fields_of`).
        """
        if self.levels and level not in self.levels:
            return False
        if self.q or self.regex:
            hit = True
            if self.q:
                hit = self._needle in (text.casefold() if self.ignore_case else text)
            if hit and self.regex:
                # RE2's Python wrapper searches UTF-8 bytes about twice as fast as str.
                hit = regex_hit if regex_hit is not None else self._pattern.search(text.encode()) is not None
            if hit == self.invert:
                return False
        if self.fields:
            # A text that carries its fields (a journal entry's) is not looked up by text: see FieldedText.
            fields = parsed[text] if parsed is not None and type(text) is str else parse(text)
            for f in self.fields:  # a loop, not all(): this runs per line per distinct filter
                if not f.matches(fields):
                    return False
        return True

    def __hash__(self) -> int:
        # Filters are dictionary keys on the fan-out path: hash the fields once, not on every lookup.
        return self._hash


class RegexSet:
    """Every distinct regex among a log's filters, matched in a few RE2 passes per line (`re2.Set`).

    With a thousand clients each following its own pattern, searching pattern by pattern costs about a
    microsecond or more per pattern per line; one set match costs about the same as a single search.

    Building a set runs on the event loop (the hub never awaits) and RE2's wrapper holds the GIL while it
    compiles one, so a worker thread would not spare the loop: instead no build is ever large. Patterns go
    into chunks of at most CHUNK_PATTERNS patterns and CHUNK_CHARS characters, and adding stops when
    CHUNK_BUDGET of CPU is spent. A new set keeps the chunks of the one before it that are still mostly in
    use and builds at most one new chunk; patterns left out (`pending`) are matched one by one until a later
    set takes them (the hub builds one at its next batch). Measured by bench/regexset.py: a build of 200
    patterns of 1,000 characters at once took 50-60 ms of CPU, a chunk at most a few ms; a line against
    1,000 short patterns costs 2-3 times one set's match (two chunks).
    """

    def __init__(self, filters: list[LineFilter], previous: RegexSet | None = None) -> None:
        wanted = {flt for flt in filters if flt.regex}
        chunks: list[_Chunk] = [chunk for chunk in (previous.chunks if previous else [])
                  if 2 * len(wanted.intersection(chunk.slots)) >= len(chunk.slots)]
        held = {flt for chunk in chunks for flt in chunk.slots}
        missing = [flt for flt in dict.fromkeys(filters) if flt.regex and flt not in held]
        if missing:
            chunks.append(_Chunk(missing))
        self.chunks: list[_Chunk] = chunks
        self.slots: dict[LineFilter, int] = {}
        for number, chunk in enumerate(chunks):
            for flt, slot in chunk.slots.items():
                if flt in wanted:
                    self.slots.setdefault(flt, (number << _CHUNK_SHIFT) | slot)
        self.pending = len(self.slots) < len(wanted)

    def match(self, text: str) -> list[int]:
        """The slots of the patterns found in `text`."""
        raw = text.encode()
        hits: list[int] = []
        for number, chunk in enumerate(self.chunks):
            base = number << _CHUNK_SHIFT
            for split, rset in chunk.sets:
                found = rset.Match(raw)  # an empty set answers None
                if found:
                    hits.extend(base | split | i for i in found)
        return hits


CHUNK_PATTERNS = 1024  # patterns in one RE2 set
CHUNK_CHARS = 16384  # characters of pattern in one RE2 set
CHUNK_BUDGET = 0.002  # seconds of CPU spent adding patterns to one set, checked between patterns
_SPLIT = 1 << 20  # slot numbers with this bit are in a chunk's case-insensitive set
_CHUNK_SHIFT = 21  # a slot is its chunk's number, then the bit above, then its index in the set


class _Chunk:
    """One bounded pair of RE2 sets (case-sensitive, case-insensitive) and each pattern's slot in them."""

    def __init__(self, filters: list[LineFilter]) -> None:
        self.slots: dict[LineFilter, int] = {}
        self.sets: list[tuple[int, Any]] = []
        deadline, chars = time.thread_time() + CHUNK_BUDGET, 0
        for ignore_case, split in ((False, 0), (True, _SPLIT)):
            rset = re2.Set.SearchSet(re2_options(ignore_case, SET_MAX_MEM))
            added = 0
            for flt in filters:
                if flt.ignore_case != ignore_case or flt in self.slots:
                    continue
                if (len(self.slots) >= CHUNK_PATTERNS or chars + len(flt.regex) > CHUNK_CHARS
                        or time.thread_time() > deadline):
                    break
                self.slots[flt] = split | rset.Add(flt.regex)
                chars += len(flt.regex)
                added += 1
            if not added:
                continue
            try:
                rset.Compile()
            except Exception as exc:  # the wrapper raises plain errors (e.g. out of memory)
                raise FilterError(f"cannot build one RE2 set of these patterns: {exc}") from None
            self.sets.append((split, rset))
