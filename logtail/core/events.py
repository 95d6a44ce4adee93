"""Multi-line events: the lines that continue an event (a traceback's frames, `Caused by:`, indented lines)
joined to the line that began it. A pure stage meant to sit between the line splitter (lines.py) and
publishing, for a log configured with `multiline` (issue 25).

An event is a `RawLine` whose text holds its lines joined with "\\n" and whose end is the end of its last
line, so its id is exact: a resume after it never splits or repeats it. The last event stays pending until
a line that starts another arrives, or until its writer has been quiet for `multiline_wait` (the caller's
clock: `flush`). An event is capped at `max_lines` lines and `max_chars` characters: it is then ended
and flagged truncated, and what follows starts a new event, so nothing is dropped and memory stays bounded
whatever the file holds.

Rules (`rule_for`): `indent` (a line starting with a space or tab continues), `python` (a traceback and its
chained tracebacks), `java` (the exception line right after the logged line, `at ...`, `Caused by: ...`,
`Suppressed: ...`, `... N more`), `auto` (only lines that cannot begin a record: see AutoRule), or an RE2
pattern found in the lines that start events.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from logtail.core.lines import RawLine
from logtail.match.patterns import FilterError, searcher

MAX_EVENT_LINES = 1000
MAX_EVENT_CHARS = 1 << 20
MULTILINE_NAMES = ("python", "java", "indent", "auto")


class Rule:
    """Whether a line continues the pending event, given the lines of that event so far (never empty)."""

    def continues(self, text: str, lines: list[str]) -> bool:
        raise NotImplementedError


class IndentRule(Rule):
    def continues(self, text: str, lines: list[str]) -> bool:
        return text[:1] in (" ", "\t")


_PY_CHAIN = ("During handling of the above exception, another exception occurred:",
             "The above exception was the direct cause of the following exception:")
# The exception line that ends a traceback: `KeyError: 'x'`, `mod.CustomError`, `ValueError`.
_PY_EXCEPTION = re.compile(r"[A-Za-z_][\w.]*+(?::.*)?")


class PythonRule(Rule):
    def continues(self, text: str, lines: list[str]) -> bool:
        if text.startswith(_PY_TRACEBACK) or text in _PY_CHAIN or text[:1] in (" ", "\t"):
            return True
        if not _in_traceback(lines):
            return False
        last = lines[-1]
        if not text:  # the blank lines around a chain message
            return last in _PY_CHAIN or _PY_EXCEPTION.fullmatch(last) is not None
        return last[:1] in (" ", "\t") and _PY_EXCEPTION.fullmatch(text) is not None  # after the last frame


_PY_TRACEBACK = "Traceback (most recent call last):"


def _in_traceback(lines: list[str]) -> bool:
    # The header is the event's first or second line (a logged line, then its traceback).
    return lines[0].startswith(_PY_TRACEBACK) or (len(lines) > 1 and lines[1].startswith(_PY_TRACEBACK))


_JAVA_FRAME = re.compile(r"\s++(?:at |\.\.\. \d++ (?:more|common frames omitted))")
# A qualified exception class, optionally with a message: `java.lang.IllegalStateException: boom`.
_JAVA_EXCEPTION = re.compile(r"(?:[A-Za-z_$][\w$]*+\.)++[A-Za-z_$][\w$]*+(?::.*)?")


class JavaRule(Rule):
    def continues(self, text: str, lines: list[str]) -> bool:
        if _JAVA_FRAME.match(text) or text.startswith(("Caused by: ", "Suppressed: ")):
            return True
        if text[:1] in (" ", "\t"):
            return bool(text.strip())
        # The exception line right after the logged line.
        return len(lines) == 1 and _JAVA_EXCEPTION.fullmatch(text) is not None


class AutoRule(Rule):
    """`auto`, safe on any log: a line continues the event only when no logger writes such a line as a record
    of its own: a Java frame (`at ...`, `... N more`, indented), `Caused by: ` or `Suppressed: `, a Python
    `Traceback (most recent call last):` and, inside a traceback, what `python` joins. So it never joins two
    records; it may leave a continuation it cannot be sure of as an event of its own (an indented line
    outside a traceback, Java's exception line after the logged line)."""

    def continues(self, text: str, lines: list[str]) -> bool:
        if _JAVA_FRAME.match(text) or text.startswith(("Caused by: ", "Suppressed: ", _PY_TRACEBACK)):
            return True
        return _in_traceback(lines) and _PYTHON.continues(text, lines)


class StartRule(Rule):
    """A line continues the event unless the pattern is found in it (the pattern marks event starts)."""

    def __init__(self, starts: Callable[[str], bool]) -> None:
        self.starts = starts

    def continues(self, text: str, lines: list[str]) -> bool:
        return not self.starts(text)


_PYTHON = PythonRule()
_RULES: dict[str, Rule] = {"python": _PYTHON, "java": JavaRule(), "indent": IndentRule(), "auto": AutoRule()}


def rule_for(spec: str | dict[str, Any]) -> Rule:
    """The rule `multiline` names: `python`, `java`, `indent` or `{start = "RE2"}`; ValueError otherwise."""
    if isinstance(spec, str):
        rule = _RULES.get(spec)
        if rule is None:
            raise ValueError(f"{spec[:100]!r} is not one of {', '.join(MULTILINE_NAMES)} nor {{start = \"RE2\"}}")
        return rule
    if set(spec) != {"start"} or not isinstance(spec["start"], str):
        raise ValueError('a table must be {start = "RE2 pattern"}')
    try:
        return StartRule(searcher(spec["start"], False))
    except FilterError as exc:
        raise ValueError(f"start: {exc}") from None


class EventJoiner:
    """Joins continuation lines to the line that began their event; holds the last event until it ends."""

    def __init__(self, rule: Rule, offset: int = 0, max_lines: int = MAX_EVENT_LINES,
                 max_chars: int = MAX_EVENT_CHARS) -> None:
        self.rule = rule
        self.max_lines = max_lines
        self.max_chars = max_chars
        self._lines: list[str] = []  # the pending event's lines
        self._size = 0  # their characters, with the newlines between them
        self._end = offset  # the end of the last line fed (of the pending event, or of the last one taken)
        self._begun = offset  # where the pending event began: the end of the line before it
        self._truncated = False

    def reset(self, offset: int) -> None:
        """Start afresh at `offset` (nothing pending): the splitter was moved there."""
        self._lines, self._size, self._end, self._begun, self._truncated = [], 0, offset, offset, False

    @property
    def pending(self) -> bool:
        return bool(self._lines)

    @property
    def start(self) -> int | None:
        """Where the pending event began, measured as the end of the line before it; None without one."""
        return None if not self._lines else self._begun

    def feed(self, raws: Iterable[RawLine]) -> list[RawLine]:
        """The events that the lines `raws` complete (the last one stays pending)."""
        done: list[RawLine] = []
        lines = self._lines
        for raw in raws:
            text = raw.text
            if lines and self.rule.continues(text, lines):
                if len(lines) < self.max_lines and self._size + 1 + len(text) <= self.max_chars:
                    lines.append(text)
                    self._size += 1 + len(text)
                    self._end = raw.end
                    self._truncated = self._truncated or raw.truncated
                    continue
                done.append(self._take(capped=True))  # over the cap: the rest starts a new event
            elif lines:
                done.append(self._take())
            self._begin(raw)
            lines = self._lines
        return done

    def flush(self) -> list[RawLine]:
        """The pending event as it is (its writer went quiet, or its file was rotated or truncated)."""
        return [self._take()] if self._lines else []

    def _begin(self, raw: RawLine) -> None:
        self._begun = self._end
        self._lines = [raw.text]
        self._size = len(raw.text)
        self._end = raw.end
        self._truncated = raw.truncated

    def _take(self, capped: bool = False) -> RawLine:
        event = RawLine("\n".join(self._lines), self._end, self._truncated or capped)
        self._lines = []
        self._size = 0
        self._truncated = False
        return event
