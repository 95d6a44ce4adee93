"""User patterns on RE2, and the error a client's invalid filter raises.

RE2 runs in linear time, so a pattern like `(a+)+$` cannot stall a match. Compiling is another matter: a
short pattern can expand into a huge program (`\\p{Han}{1000}` is a thousand copies of a large character
class, tens of milliseconds of CPU each), so every user pattern is compiled with a memory cap
(`PATTERN_MAX_MEM`, which bounds the program and so the time to build it), and callers compile off the event
loop (web/query.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import re2

COMPILE_BUDGET = 0.1  # seconds of CPU to compile one request's patterns (see CompileBudget)


class FilterError(ValueError):
    """A client's filter is invalid; the message names the parameter and the problem."""


# RE2's memory budget for one user pattern (its default is 8 MiB). It bounds the program's size and so the
# time to build it, which matters twice over: the wrapper holds the GIL while it compiles, so even in a worker
# thread a compile stalls the event loop. `\p{Han}{1000}` takes 55-80 ms of CPU to compile under 2 MiB or
# more, and fails in 1.6 ms under 256 KiB, where `.{1000}`, `\p{Han}{100}` and ordinary patterns compile.
PATTERN_MAX_MEM = 256 << 10
SET_MAX_MEM = 8 << 20  # RE2's default, for one chunk of the hub's sets of every client's pattern (filters.RegexSet)


def re2_options(ignore_case: bool, max_mem: int = PATTERN_MAX_MEM) -> Any:
    options = re2.Options()
    options.log_errors = False  # parse errors are reported to the client, not printed to stderr
    options.case_sensitive = not ignore_case
    options.max_mem = max_mem
    return options


def re2_message(exc: Exception) -> str:
    """RE2's reason for refusing a pattern, as text: the wrapper gives it as bytes (str() of it read
    `b'missing ): ('`)."""
    reason = exc.args[0] if exc.args else exc
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


def compile_pattern(pattern: str, ignore_case: bool, context: str = "") -> Any:
    """`pattern` compiled; a bad one raises FilterError (`context` goes before the message)."""
    try:
        return re2.compile(pattern, re2_options(ignore_case))
    except re2.error as exc:
        raise FilterError(f"{context}invalid regex: {re2_message(exc)}") from None


def searcher(pattern: str, ignore_case: bool, context: str = "") -> Callable[[str], bool]:
    """Whether `pattern` is found in a text, as a one-pattern RE2 set: its match is a single C call, where
    the wrapper's `search` costs several times more (measured 1.4 us against 7.5 us on UTF-8 bytes)."""
    compile_pattern(pattern, ignore_case, context)  # a bad pattern fails here, with RE2's message
    rset = re2.Set.SearchSet(re2_options(ignore_case))
    rset.Add(pattern)
    try:
        rset.Compile()
    except Exception as exc:  # the wrapper raises plain errors (e.g. out of memory)
        raise FilterError(f"{context}pattern too large to compile ({exc})") from None
    match = rset.Match
    return lambda text: bool(match(text.encode()))  # no match answers None


class CompileBudget:
    """The CPU time one request may spend compiling its patterns: checked between patterns, in the worker
    thread that compiles them (thread time, so a busy machine does not count against the request)."""

    def __init__(self, seconds: float = COMPILE_BUDGET) -> None:
        self.deadline = time.thread_time() + seconds

    def check(self, context: str) -> None:
        if time.thread_time() > self.deadline:
            raise FilterError(f"{context}these patterns cost too much to compile; use fewer or simpler ones")
