"""timestamps.py: a line's time in each recognised format, and the `since=` values."""

from __future__ import annotations

from datetime import datetime

import pytest

from logtail.match.timestamps import line_time, parse_since

T = 1791640536.0  # 2026-10-10T13:55:36Z
NOW = T + 3600


def local(*args: int) -> float:
    return datetime(*args).timestamp()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10-10T13:55:36Z GET /", T),
        ("2026-10-10T13:55:36.250Z x", T + 0.25),
        ("2026-10-10T15:55:36+02:00 x", T),
        ("2026-10-10T08:55:36-0500 x", T),
        ("[2026-10-10T13:55:36Z] x", T),
        ("2026-10-10 13:55:36,500 INFO x", local(2026, 10, 10, 13, 55, 36) + 0.5),
        ('127.0.0.1 - frank [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 2326', T),
        ('::1 - - [10/Oct/2026:15:55:36 +0200] "GET / HTTP/1.1" 200 5 "-" "curl/8"', T),
        ("Oct 10 13:55:36 host sshd[1]: accepted", local(2026, 10, 10, 13, 55, 36)),
        ("Oct  9 13:55:36 host cron: x", local(2026, 10, 9, 13, 55, 36)),
        ('{"time": "2026-10-10T13:55:36Z", "msg": "x"}', T),
        ('{"ts": 1791640536.5, "msg": "x"}', T + 0.5),
        ('{"timestamp": 1791640536000}', T),
        ('{"time": 1791640536000000}', T),
        ('{"time": 1791640536000000000}', T),
        ("ts=2026-10-10T13:55:36Z level=info msg=x", T),
        ('time="2026-10-10T13:55:36Z" msg=x', T),
        ("timestamp=1791640536 a=b", T),
        ('{"msg": "no time here"}', None),
        ('{"time": "yesterday"}', None),
        ("  at com.example.Foo.bar(Foo.java:12)", None),
        ("plain text 2026-10-10T13:55:36Z", None),  # ISO only at the start
        ("2026-02-31T10:00:00Z impossible date", None),
        ("Foo 10 13:55:36 not a month", None),
        ("", None),
    ],
)
def test_line_time(text: str, expected: float | None) -> None:
    assert line_time(text, NOW) == expected


def test_syslog_in_january_reads_december_as_last_year() -> None:
    now = datetime(2027, 1, 2, 10, 0, 0).timestamp()
    assert line_time("Dec 31 23:59:59 host x", now) == datetime(2026, 12, 31, 23, 59, 59).timestamp()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30s", NOW - 30),
        ("15m", NOW - 900),
        ("2h", NOW - 7200),
        ("1d", NOW - 86400),
        ("0s", NOW),
        ("2026-10-10T13:55:36Z", T),
        ("2026-10-10T15:55:36.5+02:00", T + 0.5),
    ],
)
def test_parse_since(value: str, expected: float) -> None:
    assert parse_since(value, NOW) == expected


@pytest.mark.parametrize("value", ["", "15", "15x", "-5m", "1.5h", "2026-10-10", "2026-10-10T13:55:36",
                                   "2026-10-10 13:55:36Z", "yesterday", "9999999999d", "2026-13-01T00:00:00Z"])
def test_bad_since_names_the_parameter(value: str) -> None:
    with pytest.raises(ValueError, match=r"^since: "):
        parse_since(value, NOW)
