"""What a log's parser is: a pure function from a line to its fields, and the level and time they give.

A line the parser does not recognise has no fields (`None`) and is kept as it is: never dropped, never an
error; its level and time are then read off its text as for any other log.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from logtail.match.fields import Fields
from logtail.match.levels import LEVEL_KEYS, SYNONYMS, Level, detect_level
from logtail.match.timestamps import TIME_KEYS, line_time, value_time


@dataclass(frozen=True)
class BlockParse:
    """A block's lines parsed at once: each line's level, and its fields' JSON laid out: a bytes item is the
    same on every line, a sequence holds each line's own (the JSON is each line's items joined)."""

    levels: list[Level]
    layout: list[bytes | Sequence[bytes]]


# A block's bytes (lines and newlines) and its number of lines -> the block parsed, or None (then the lines
# are parsed one by one). The caller checks that the block is ASCII with no control character and no backslash.
BlockFields = Callable[[bytes, int], BlockParse | None]


class ParserError(ValueError):
    """A parser's name or pattern is invalid; the message says why."""


def compile_grammar(pattern: str) -> re.Pattern[str]:
    """A built-in grammar. These are Python patterns written only with possessive quantifiers (`*+`, `++`)
    and alternatives that cannot overlap, so the engine never backtracks: a match or a near miss costs time
    linear in the line's length, as on RE2 (tests/test_parsers.py pins near misses of a megabyte). Python's
    engine is used because it was about ten times faster here than the RE2 wrapper, whose group extraction
    runs in Python; patterns that operators write run on RE2 (`parser_for`)."""
    return re.compile(pattern, re.S)


@dataclass(frozen=True)
class Parser:
    """A log's parser: `spec` is what was configured ("nginx", ..., or the pattern)."""

    spec: str
    parse: Callable[[str], Fields | None]
    # The level of a line with fields that name none (an access log's status, a syslog line's message).
    fallback_level: Callable[[str, Fields], Level | None] = lambda text, _fields: detect_level(text)
    # A whole block at once (`accessblock.block_fields`): each line's level and its fields' JSON, the same
    # as `level` and `fields` give line by line.
    block: BlockFields | None = None
    # The last line parsed and its fields: a line's level and its fields are asked for one after the other
    # (by a filter, a frame, a search hit), and this saves the second parse. One tuple, replaced whole, so a
    # search's worker thread and the event loop never see a text with another line's fields.
    _last: tuple[str, Fields | None] = field(default=("", None), init=False, repr=False, compare=False)

    def fields(self, text: str) -> Fields | None:
        last_text, last_fields = self._last
        if text == last_text and last_text:
            return last_fields
        fields = self.parse(text)
        object.__setattr__(self, "_last", (text, fields))
        return fields

    def level(self, text: str, fields: Fields | None = None) -> Level | None:
        """The level a level field names (`level`, `lvl`, `severity`, `loglevel`), else the fallback; a
        line without fields gets the level its text shows, as in a log without a parser."""
        if fields is None:
            fields = self.fields(text)
            if fields is None:
                return detect_level(text)
        for key in LEVEL_KEYS:
            value = fields.get(key)
            if value is not None:
                return SYNONYMS.get(value.lower())
        return self.fallback_level(text, fields)

    def time(self, text: str, now: float) -> float | None:
        """When the line was written: its time field, else what its text shows."""
        fields = self.fields(text)
        if fields is not None:
            for key in TIME_KEYS:
                value = fields.get(key)
                if value is not None:
                    return value_time(value, now)
        return line_time(text, now)
