"""A block of access lines parsed at once, in columns: the common case of the access grammar in C string calls.

nginx writes a `"` inside a value, a control character and any byte outside ASCII as `\\xHH`
(`escape=default`). So in a block of its combined or `main` lines (or Apache's, when nothing is escaped)
that is ASCII with no backslash and no control character, every line is the grammar's groups between its
quotes and spaces, and every value is its own JSON. The block is split at its quotes once, its columns
(heads, middles, requests) joined and split at their spaces, and each column checked as the grammar would
match it with calls that loop in C (`map`, `join`, `set`, where the newlines fall after a split); the one
Python loop over lines is for a column whose lines differ in having a value (`-` referers among URLs). The
fields' JSON is laid out as constant pieces and columns, which the block's frames lay out with their own
(`core/block.py`). A block with any other line (a custom format's trailing pairs, a bad request line, a `-`
status, ...) is left to the per-line parse: `block_fields` says None. Both give the same levels and the
same JSON, `-` and empty values left out (tests/test_access_block.py checks them against each other).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from operator import itemgetter

from logtail.match.levels import Level
from logtail.match.parsers.base import BlockParse

# An access line's level from the first digit of its status (`access.status_level`), a byte's value.
_LEVEL_OF_DIGIT: dict[int, Level] = {digit: "error" if digit == ord("5") else "warn" if digit == ord("4")
                                     else "info" for digit in b"0123456789"}
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
    if any(set(parts[i::step]) != {b" "} for i in range(4, step, 2)):  # `" "` between quoted fields
        return None
    head = _head(parts[0::step], count)
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


def _head(heads: Column, count: int) -> tuple[Column, Column, Column, Column] | None:
    """`client ident user [time] ` of each line (each of the first three non-empty, the time without `]`).
    `heads`: each line's head with a newline after it (the first line's before it); joined, and split at the
    spaces when every line has as many (the time's own spaces included) and each newline falls where a line
    ends. The `] ` before each newline is the only `]`: the time has none."""
    joined = b"".join(heads)
    if joined.count(b"]") != count or joined.count(b"] \n") != count:
        return None
    spaces, odd = divmod(joined.count(b" ") - count, count)  # a line's spaces but the one after `]`
    width = spaces + 2  # a line's pieces (client, ident, user, the time's) and the newline after them
    pieces = joined[:-3].replace(b"] \n", b" \n ").split(b" ")
    if odd or width < 5 or len(pieces) != width * count - 1 or set(pieces[width - 1::width]) - {b"\n"}:
        return None
    clients, idents, users, first = pieces[0::width], pieces[1::width], pieces[2::width], pieces[3::width]
    if b"" in clients or b"" in idents or b"" in users or not all(map(bytes.startswith, first, repeat(b"["))):
        return None
    times: list[Column] = [list(map(bytes.removeprefix, first, repeat(b"["))),
                           *(pieces[i::width] for i in range(4, width - 1))]
    return clients, idents, users, times[0] if width == 5 else _spaced(times, count)


def _spaced(columns: list[Column], count: int) -> list[bytes]:
    """Each line's values of `columns` joined by spaces (the block's rows joined by newlines, then split)."""
    width = 2 * len(columns)
    cells = [b" "] * (width * count)
    for i, column in enumerate(columns):
        cells[2 * i::width] = column
    cells[width - 1::width] = [b"\n"] * count
    rows = b"".join(cells).split(b"\n")
    rows.pop()
    return rows


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
