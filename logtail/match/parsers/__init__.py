"""Parsers: a log's lines turned into fields, per log (`parse = "nginx"`).

`parser_for(spec)` maps a configured value to its parser: `auto` (the default: JSON and logfmt lines are
recognised as they come, `None` here so that such logs keep the fast path untouched), `json`, `logfmt`,
`nginx`, `apache`, `syslog`, or an RE2 pattern whose named groups are the fields
(`(?P<ts>\\S+) (?P<level>\\w+) (?P<msg>.*)`, searched in the line: anchor it with `^` to match from the start).
"""

from __future__ import annotations

from typing import Any

import re2

from logtail.match.fields import Fields, json_fields, logfmt_fields
from logtail.match.levels import Level, detect_level
from logtail.match.parsers.access import access_fields, status_level
from logtail.match.parsers.accessblock import block_fields
from logtail.match.parsers.base import Parser, ParserError
from logtail.match.parsers.syslog import syslog_fields
from logtail.match.patterns import re2_message

__all__ = ["PARSER_NAMES", "Parser", "ParserError", "parser_for"]

PARSER_NAMES = ("auto", "json", "logfmt", "nginx", "apache", "syslog")
MAX_PATTERN_CHARS = 2000


def _access_level(text: str, fields: Fields) -> Level | None:
    level = status_level(fields.get("status"))
    return level if level is not None else detect_level(text)


def _syslog_level(text: str, fields: Fields) -> Level | None:
    return detect_level(fields.get("msg", text))  # no PRI: the message may say (`error: ...`)


_BUILT_IN: dict[str, Parser] = {
    "json": Parser("json", json_fields),
    "logfmt": Parser("logfmt", logfmt_fields),
    "nginx": Parser("nginx", access_fields, _access_level, block_fields),
    "apache": Parser("apache", access_fields, _access_level, block_fields),
    "syslog": Parser("syslog", syslog_fields, _syslog_level),
}


def parser_for(spec: str) -> Parser | None:
    """The parser `spec` names (None for `auto`); ParserError when it is neither a name nor a usable
    RE2 pattern with named groups."""
    if spec == "auto":
        return None
    built_in = _BUILT_IN.get(spec)
    if built_in is not None:
        return built_in
    return Parser(spec, _pattern_fields(spec), _access_level)  # a `status` group counts as in an access log


def _pattern_fields(spec: str) -> Any:
    if len(spec) > MAX_PATTERN_CHARS:
        raise ParserError(f"a pattern longer than {MAX_PATTERN_CHARS} characters")
    options = re2.Options()
    options.log_errors = False
    try:
        pattern = re2.compile(spec, options)
    except re2.error as exc:
        raise ParserError(f"{spec[:100]!r} is not one of {', '.join(PARSER_NAMES)} nor a valid RE2 pattern "
                          f"({re2_message(exc)})") from None
    names = tuple(pattern.groupindex)
    if not names:
        raise ParserError(f"{spec[:100]!r} is not one of {', '.join(PARSER_NAMES)} nor an RE2 pattern with "
                          "named groups like (?P<level>\\w+)")
    search = pattern.search

    def fields(text: str) -> Fields | None:
        m = search(text.encode())  # on bytes: see groups_of
        if m is None:
            return None
        return {name: value.decode("utf-8", "replace") for name, value in m.groupdict().items()
                if value is not None}

    return fields
