"""Access logs: nginx's `combined` and default `main` formats, Apache's common and combined formats.

The grammars agree: `client ident user [time] "request" status bytes`, then for combined `"referer"
"user agent"`, and for nginx's `main` a third quoted `"x_forwarded_for"`. What follows (custom formats often
append `request_time=0.012 upstream=...`) becomes fields too when it is made of logfmt pairs, else the field
`extra`. A `-` means "no value": that field is left out, as a JSON writer would leave out a null.

Inside quotes nginx writes `"` and bytes outside printable ASCII as `\\xHH` (`escape=default`), Apache as
`\\"`, `\\\\` and `\\xHH`: both are undone, so `user_agent` holds the header as the client sent it.
"""

from __future__ import annotations

import re

from logtail.match.fields import Fields, logfmt_fields
from logtail.match.levels import Level
from logtail.match.parsers.base import compile_grammar

_QUOTED = r'"((?:[^"\\]++|\\.)*+)"'
# One pass without backtracking (see compile_grammar); the groups: client, ident, user, time, request,
# status, bytes, referer, user agent, forwarded for, the rest.
_LINE = compile_grammar(
    r"(\S++) (\S++) (\S++) \[([^\]]*+)\] " + _QUOTED + r" (\d{3}|-) (\d++|-)"
    r"(?: " + _QUOTED + " " + _QUOTED + r"(?: " + _QUOTED + r")?+)?+(?:\s++(.*))?"
)
_NAMES = ("remote_addr", "ident", "user", "time", "request", "status", "bytes", "referer", "user_agent",
          "forwarded_for")
_ESCAPE = re.compile(rb"\\x([0-9A-Fa-f]{2})|\\(.)", re.S)  # the escapes of both servers, on bytes
_REQUEST = re.compile(r"([A-Z][A-Z_-]*) (\S+)(?: (HTTP/[\d.]+))?")


def access_fields(text: str) -> Fields | None:
    """The fields of an nginx or Apache access log line, or None when the line is not one."""
    m = _LINE.fullmatch(text)
    if m is None:
        return None
    values = m.groups()
    # Every line of a parsed access log comes here (bench/parsed_bench.py): one comprehension, escapes looked
    # for only in a line that has a backslash.
    fields: Fields = {name: value for name, value in zip(_NAMES, values, strict=False) if value and value != "-"}
    if "\\" in text:
        for name, value in fields.items():
            if "\\" in value:
                fields[name] = _unescape(value)
    request = fields.get("request")
    if request is not None:
        _split_request(request, fields)
    rest = values[-1]
    if rest and (rest := rest.rstrip()):
        pairs = logfmt_fields(rest)
        if pairs:
            for key, value in pairs.items():
                fields.setdefault(key, value)
        else:
            fields["extra"] = rest
    return fields


def _split_request(request: str, fields: Fields) -> None:
    """`method`, `path` and `protocol` of `METHOD PATH[ HTTP/x.y]` (nothing for any other request line)."""
    r = _REQUEST.fullmatch(request)
    if r is not None:
        fields["method"], fields["path"] = r.group(1), r.group(2)
        if r.group(3):
            fields["protocol"] = r.group(3)


def _unescape(value: str) -> str:
    raw = value.encode()
    return _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]) if m.group(1) else m.group(2), raw).decode(
        "utf-8", "replace")


def status_level(status: str | None) -> Level | None:
    """An access log line's level from its status: 5xx error, 4xx warn, anything else info."""
    if status is None or len(status) != 3 or not status.isdigit():
        return None
    return "error" if status[0] == "5" else "warn" if status[0] == "4" else "info"

