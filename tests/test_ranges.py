"""Range and If-Range: pure functions, tested from tables."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from logtail.core.ranges import NumberTooLong, RangeNotSatisfiable, Validators, parse_range


@pytest.mark.parametrize(("header", "size", "expected"), [
    (None, 100, None),
    ("bytes=0-0", 100, (0, 1)),
    ("bytes=0-99", 100, (0, 100)),
    ("bytes=10-19", 100, (10, 20)),
    ("bytes=10-1000", 100, (10, 100)),  # the last position is clamped
    ("bytes=99-", 100, (99, 100)),
    ("bytes=0-", 100, (0, 100)),
    ("bytes=-1", 100, (99, 100)),
    ("bytes=-100", 100, (0, 100)),
    ("bytes=-5000", 100, (0, 100)),  # a suffix longer than the file is the whole file
    ("BYTES = 5-6", 100, (5, 7)),  # the unit is case-insensitive
    ("bytes=5-6 ", 100, (5, 7)),
    ("bytes=20-10", 100, None),  # invalid range-spec: the header is ignored
    ("bytes=", 100, None),
    ("bytes=-", 100, None),
    ("bytes=a-b", 100, None),
    ("bytes=1.5-2", 100, None),
    ("bytes=+1-2", 100, None),
    ("bytes 0-5", 100, None),
    ("items=0-5", 100, None),  # another unit: ignored
    ("bytes=0-1,5-6", 100, None),  # several ranges: served whole
    ("bytes=0-5", 0, None),  # an empty file is served whole
])
def test_parse_range(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(("header", "size"), [("bytes=100-", 100), ("bytes=100-200", 100), ("bytes=-0", 100)])
def test_parse_range_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size)



@pytest.mark.parametrize("header", ["bytes=" + "9" * 19 + "-", "bytes=0-" + "1" * 5000, "bytes=-" + "9" * 19,
                                    "bytes=0-1," + "9" * 19 + "-"])
def test_parse_range_refuses_over_long_numbers(header: str) -> None:
    """Past 18 digits a number is no file's position: a bad request (400), not 416 or the whole file."""
    with pytest.raises(NumberTooLong, match=r"^Range: a number of more than 18 digits$"):
        parse_range(header, 100)


def test_etag_changes_with_size_inode_and_mtime() -> None:
    base = Validators.of(7, 100, 1_000_000_000_000)
    assert base.etag == '"7-64-e8d4a51000"'
    assert len({base.etag, Validators.of(8, 100, 10**12).etag, Validators.of(7, 101, 10**12).etag,
                Validators.of(7, 100, 10**12 + 1).etag}) == 4


def test_if_range() -> None:
    old = time.time() - 100
    v = Validators.of(1, 10, int(old * 1e9))
    assert v.if_range_holds(None)
    assert v.if_range_holds(v.etag)
    assert not v.if_range_holds("W/" + v.etag)  # weak validators never hold
    assert not v.if_range_holds('"other"')
    assert v.if_range_holds(formatdate(old, usegmt=True))
    assert not v.if_range_holds(formatdate(old - 5, usegmt=True))
    assert not v.if_range_holds("not a date")


def test_if_range_date_of_a_file_changed_this_second_does_not_hold() -> None:
    """A date only has whole seconds: a file modified within the last second may change again within it."""
    now = time.time()
    v = Validators.of(1, 10, int(now * 1e9))
    assert not v.if_range_holds(formatdate(now, usegmt=True))
