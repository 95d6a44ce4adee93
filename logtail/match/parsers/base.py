"""What a log's parser is: a pure function from a line to its fields, and the level and time they give.

A line the parser does not recognise has no fields (`None`) and is kept as it is: never dropped, never an
error; its level and time are then read off its text as for any other log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import re2

from logtail.match.fields import Fields
from logtail.match.levels import LEVEL_KEYS, SYNONYMS, Level, detect_level
from logtail.match.timestamps import TIME_KEYS, line_time, value_time


class ParserError(ValueError):
    """A parser's name or pattern is invalid; the message says why."""


def compile_re2(pattern: str) -> Any:
    """A built-in grammar on RE2: linear in the line's length whatever the line (no backtracking)."""
    options = re2.Options()
    options.log_errors = False
    options.dot_nl = True  # a line's text never holds a newline, but a multi-line event's does
    return re2.compile(pattern, options)


def groups_of(match: Any) -> tuple[str | None, ...]:
    """The groups of a match on UTF-8 bytes, as text. The wrapper matches bytes several times faster than
    str (it maps every group's offsets back to characters for str)."""
    return tuple(None if g is None else g.decode("utf-8", "replace") for g in match.groups())


@dataclass(frozen=True)
class Parser:
    """A log's parser: `spec` is what was configured ("nginx", ..., or the pattern)."""

    spec: str
    parse: Callable[[str], Fields | None]
    # The level of a line with fields that name none (an access log's status, a syslog line's message).
    fallback_level: Callable[[str, Fields], Level | None] = lambda text, _fields: detect_level(text)

    def fields(self, text: str) -> Fields | None:
        return self.parse(text)

    def level(self, text: str, fields: Fields | None = None) -> Level | None:
        """The level a level field names (`level`, `lvl`, `severity`, `loglevel`), else the fallback; a
        line without fields gets the level its text shows, as in a log without a parser."""
        if fields is None:
            fields = self.parse(text)
            if fields is None:
                return detect_level(text)
        for key in LEVEL_KEYS:
            value = fields.get(key)
            if value is not None:
                return SYNONYMS.get(value.lower())
        return self.fallback_level(text, fields)

    def time(self, text: str, now: float) -> float | None:
        """When the line was written: its time field, else what its text shows."""
        fields = self.parse(text)
        if fields is not None:
            for key in TIME_KEYS:
                value = fields.get(key)
                if value is not None:
                    return value_time(value, now)
        return line_time(text, now)
