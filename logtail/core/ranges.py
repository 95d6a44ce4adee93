"""HTTP Range and If-Range (RFC 9110 sections 13.1.5 and 14): pure functions of headers and a file's state."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime


class RangeNotSatisfiable(Exception):
    """Every range in a well-formed Range header starts at or after the end of the file: answer 416."""


class NumberTooLong(ValueError):
    """A number of more than `MAX_DIGITS` digits: answer 400 naming where it was."""


_RANGE_SPEC = re.compile(r"([0-9]*)-([0-9]*)")
# Any file's size has at most 18 digits; `int()` of thousands of digits is refused by Python itself (and
# costs quadratic time below that), so a longer number is a bad request, said before anything is parsed.
MAX_DIGITS = 18
_LONG_NUMBER = re.compile(f"[0-9]{{{MAX_DIGITS + 1}}}")


def refuse_long_number(name: str, value: str | None) -> None:
    """Raise `NumberTooLong` naming `name` when `value` holds a run of more than `MAX_DIGITS` digits."""
    if value is not None and _LONG_NUMBER.search(value):
        raise NumberTooLong(f"{name}: a number of more than {MAX_DIGITS} digits")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The byte span `(start, stop)` (stop exclusive) a `Range` header asks for, or None to send it all.

    None for no header, a malformed one, another unit, several ranges (served whole: allowed by RFC 9110,
    and simpler than multipart/byteranges) and any range of an empty file; `NumberTooLong` for a number of
    more than `MAX_DIGITS` digits, whatever the rest says. Example:
    `parse_range("bytes=-500", 1000) == (500, 1000)`.
    """
    refuse_long_number("Range", header)
    if not header or size == 0:
        return None
    unit, sep, ranges = header.partition("=")
    if not sep or unit.strip().lower() != "bytes" or "," in ranges:
        return None
    m = _RANGE_SPEC.fullmatch(ranges.strip())
    if m is None or m.group(1) == m.group(2) == "":
        return None
    first, last = _number(m.group(1)), _number(m.group(2))
    if first is None:  # suffix range: the last N bytes
        length = last or 0
        if length == 0:
            raise RangeNotSatisfiable
        return max(0, size - length), size
    start = first
    if last is not None and last < start:
        return None  # invalid range-spec: the header is ignored
    if start >= size:
        raise RangeNotSatisfiable
    return start, size if last is None else min(last + 1, size)


def _number(digits: str) -> int | None:
    """A range bound (at most MAX_DIGITS digits: `parse_range` refused longer ones first)."""
    return int(digits) if digits else None




@dataclass(frozen=True)
class Validators:
    etag: str
    last_modified: str
    mtime: float

    @classmethod
    def of(cls, inode: int, size: int, mtime_ns: int) -> Validators:
        # The size is part of the tag: a log that grew is a different representation.
        mtime = mtime_ns / 1e9
        return cls(f'"{inode:x}-{size:x}-{mtime_ns:x}"', formatdate(mtime, usegmt=True), mtime)


    def if_range_holds(self, if_range: str | None) -> bool:
        """Whether a Range may be applied under `If-Range` (RFC 9110 section 13.1.5): strong matches only."""
        if if_range is None:
            return True
        value = if_range.strip()
        if value.startswith(('"', "W/")):
            return value == self.etag
        try:
            when = parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError, IndexError):
            return False
        # A date is a strong validator only if the file has not changed within the second it names.
        return int(when) == int(self.mtime) and time.time() - self.mtime >= 1
