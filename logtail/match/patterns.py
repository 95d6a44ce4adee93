"""User patterns on RE2, and the error a client's invalid filter raises.

RE2 runs in linear time, so a pattern like `(a+)+$` cannot stall the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import re2


class FilterError(ValueError):
    """A client's filter is invalid; the message names the parameter and the problem."""


def re2_options(ignore_case: bool) -> Any:
    options = re2.Options()
    options.log_errors = False  # parse errors are reported to the client, not printed to stderr
    options.case_sensitive = not ignore_case
    return options


def compile_pattern(pattern: str, ignore_case: bool, context: str = "") -> Any:
    """`pattern` compiled; a bad one raises FilterError (`context` goes before the message)."""
    try:
        return re2.compile(pattern, re2_options(ignore_case))
    except re2.error as exc:
        raise FilterError(f"{context}invalid regex: {exc}") from None


def searcher(pattern: str, ignore_case: bool, context: str = "") -> Callable[[str], bool]:
    """Whether `pattern` is found in a text, as a one-pattern RE2 set: its match is a single C call, where
    the wrapper's `search` costs several times more (measured 1.4 us against 7.5 us on UTF-8 bytes)."""
    compile_pattern(pattern, ignore_case, context)  # a bad pattern fails here, with RE2's message
    rset = re2.Set.SearchSet(re2_options(ignore_case))
    rset.Add(pattern)
    try:
        rset.Compile()
    except Exception as exc:  # the wrapper raises plain errors (e.g. out of memory)
        raise FilterError(f"{context}cannot compile: {exc}") from None
    match = rset.Match
    return lambda text: bool(match(text.encode()))  # no match answers None
