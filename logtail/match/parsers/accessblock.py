"""A block of access lines parsed at once, in columns: the common case of the access grammar in C string calls.

nginx writes a `"` inside a value, a control character and any byte outside ASCII as `\\xHH`
(`escape=default`). So in a block of its combined or `main` lines (or Apache's, when nothing is escaped)
that is ASCII with no backslash and no control character, every line is the grammar's groups between its
quotes and spaces, and every value is its own JSON. Each line's bytes are split at the quotes, the block is
taken apart in columns (`zip`), and each column is checked as the grammar would match it with calls that
loop in C (`map`, `join`, `set`): no Python runs per line. The fields' JSON is then laid out as constant
pieces and columns, which the block's frames lay out with their own (`core/block.py`). A block with any
other line (a custom format's trailing pairs, a bad request line, a `-` status, ...) is left to the per-line
parse: `block_fields` says None. Both give the same levels and the same JSON, `-` and empty values left
out (tests/test_access_block.py checks them against each other on generated lines).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from operator import getitem, itemgetter

from logtail.match.levels import Level
from logtail.match.parsers.base import BlockParse

# An access line's level from the first digit of its status (`access.status_level`), a byte's value.
_LEVEL_OF_DIGIT: dict[int, Level] = {digit: "error" if digit == ord("5") else "warn" if digit == ord("4")
                                     else "info" for digit in b"0123456789"}
_TIME = slice(1, -2)  # `[time] ` without its brackets and the space
Column = Sequence[bytes]


def block_fields(data: bytes, count: int) -> BlockParse | None:
    """The levels and fields' JSON of each of the `count` lines of `data` (a block's lines and their newlines;
    the caller checked that it is ASCII with no control character and no backslash), or None when some line
    is not the common case."""
    quotes = data.count(b'"')
    step = quotes // count if quotes % count == 0 else 0  # each line's quotes: 6 (combined) or 8 (main)
    if step not in (6, 8):
        return None
    # Split once for the whole block: a line's parts are `step` pieces apart. A piece that holds a newline is
    # a line's end (its tail, the newline, the next line's head): when each of the `count` pieces where a line
    # ends starts with its newline, no line has a tail and no other piece holds a newline.
    parts = data.split(b'"')
    ends = parts[step::step]
    if not all(map(bytes.startswith, ends, repeat(b"\n"))) or ends[-1] != b"\n":
        return None
    quoted = [parts[3::step], parts[5::step], *([parts[7::step]] if step == 8 else [])]
    if any(b"".join(parts[i::step]) != b" " * count for i in range(4, step, 2)):  # `" "` between quoted fields
        return None
    head = _head([parts[0], *map(bytes.removeprefix, ends[:-1], repeat(b"\n"))])
    status_size = _status_size(parts[2::step], count)
    requests = parts[1::step]
    request = _request(requests, count)
    if head is None or b"-" in head[0] or status_size is None or request is None:
        return None
    statuses, sizes = status_size
    return BlockParse(list(map(_LEVEL_OF_DIGIT.__getitem__, map(itemgetter(0), statuses))), _layout([
        (b"remote_addr", head[0]), (b"ident", head[1]), (b"user", head[2]), (b"time", head[3]),
        (b"request", requests), (b"status", statuses), (b"bytes", sizes),
        *zip((b"referer", b"user_agent", b"forwarded_for"), quoted, strict=False),
        (b"method", request[0]), (b"path", request[1]), (b"protocol", request[2]),
    ]))


def _head(heads: Column) -> tuple[Column, Column, Column, Column] | None:
    """`client ident user [time] ` of each line (each of the first three non-empty, the time without `]`)."""
    pieces = list(map(bytes.split, heads, repeat(b" "), repeat(3)))
    if set(map(len, pieces)) != {4}:
        return None
    clients, idents, users, brackets = zip(*pieces, strict=True)
    if (b"" in clients or b"" in idents or b"" in users or not all(map(bytes.startswith, brackets, repeat(b"[")))
            or not all(map(bytes.endswith, brackets, repeat(b"] ")))
            or b"".join(brackets).count(b"]") != len(brackets)):  # one `]` each: the time has none
        return None
    return clients, idents, users, list(map(getitem, brackets, repeat(_TIME)))


def _status_size(middles: Column, count: int) -> tuple[Column, Column] | None:
    """` status bytes ` between the request and the referer: three digits, and digits. The middles joined by
    newlines and split at the spaces: each line's three pieces, then the newline before the next line's."""
    pieces = b"\n".join(middles).split(b" ")
    if len(pieces) != 3 * count + 1 or pieces[0] or pieces[-1] or set(pieces[3:-1:3]) - {b"\n"}:
        return None
    statuses, sizes = pieces[1::3], pieces[2::3]
    digits = b"".join(statuses) + b"".join(sizes)
    if set(map(len, statuses)) != {3} or b"" in sizes or not digits.isdigit():
        return None
    return statuses, sizes


def _request(requests: Column, count: int) -> tuple[Column, Column, Column] | None:
    """`METHOD PATH HTTP/x.y` of each request: an upper-case method, a path, an HTTP/ protocol. The requests
    joined by ` \n ` and split at the spaces: each line's three pieces, then the newline."""
    pieces = b" \n ".join(requests).split(b" ")
    if len(pieces) != 4 * count - 1 or set(pieces[3::4]) - {b"\n"}:
        return None
    methods, paths, protocols = pieces[0::4], pieces[1::4], pieces[2::4]
    letters, versions = b"".join(methods), b"".join(protocols)
    if (b"" in methods or b"" in paths or not (letters.isalpha() and letters.isupper())
            or not all(map(bytes.startswith, protocols, repeat(b"HTTP/")))
            or versions.count(b"HTTP/") != count or min(map(len, protocols)) <= 5
            or versions.replace(b"HTTP/", b"").strip(b"0123456789.")):
        return None
    return methods, paths, protocols


def _layout(named: list[tuple[bytes, Column]]) -> list[bytes | Column]:
    """The fields' JSON laid out: a column with a value on every line is a column between its key and the
    next; one without any (`-` or empty: left out, as the grammar does) is not there; any other is a column
    of pieces, `,"key":"value"` or nothing. The first column (the client) is on every line."""
    layout: list[bytes | Column] = [b"{"]
    for key, column in named:
        comma = b"," if len(layout) > 1 else b""
        if b"-" not in column and b"" not in column:
            layout += [comma + b'"' + key + b'":"', column, b'"']
        elif set(column) - {b"-", b""}:
            layout.append([comma + b'"' + key + b'":"' + value + b'"' if value and value != b"-" else b""
                           for value in column])
    layout.append(b"}")
    return layout
