"""When a line was written, read off the line itself, and the `since=` parameter.

Recognised, in this order: an RFC 3339 / ISO-8601 time at the start of the line (`2026-10-10T13:55:36Z`,
`2026-10-10 13:55:36,123`, optionally in brackets), the common and combined log format's
`[10/Oct/2026:13:55:36 +0000]`, classic syslog's `Oct 10 13:55:36` (no year: the current one, or the
previous one when that would put the line more than a day in the future), and a JSON or logfmt `time`,
`ts` or `timestamp` field (a time string, or seconds, milliseconds, microseconds or nanoseconds since the
epoch). A time without a zone is the server's local time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from logtail.match.fields import as_number, parse_fields

SINCE_HELP = (
    "Start with the lines written at or after this moment, then follow: a duration ago (30s, 15m, 2h, 1d) "
    "or an RFC 3339 time. Times are read off the lines; the current file and NAME.1 are read back, at most "
    "resume_max_bytes. Ignored when resuming (last_event_id / Last-Event-ID)."
)
TIME_KEYS = ("time", "ts", "timestamp")
MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}
DAY = 86400.0
_ISO = re.compile(
    r"\[?(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?\s?(Z|z|[+-]\d\d(?::?\d\d)?)?(?![\d:])"
)
_CLF = re.compile(r"\[(\d\d)/([A-Z][a-z]{2})/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-]\d{4})\]")
_CLF_SCAN = 300  # the bracketed time follows the host, ident and user fields
_SYSLOG = re.compile(r"([A-Z][a-z]{2}) ([ \d]?\d) (\d\d):(\d\d):(\d\d)(?!\d)")
_RELATIVE = re.compile(r"(\d{1,9})([smhd])")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY}


def line_time(text: str, now: float) -> float | None:
    """Seconds since the epoch at which the line says it was written, or None."""
    m = _ISO.match(text)
    if m:
        return _iso_time(m)
    m = _CLF.search(text, 0, _CLF_SCAN)
    if m:
        return _clf_time(m)
    m = _SYSLOG.match(text)
    if m:
        return _syslog_time(m, now)
    if text.startswith("{") or "=" in text:
        return _field_time(text)
    return None


def _zone(text: str | None) -> timezone | None:
    if text is None:
        return None
    if text in ("Z", "z"):
        return UTC
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) >= 4 else 0)
    return timezone((-1 if text[0] == "-" else 1) * timedelta(minutes=minutes))


def _stamp(year: int, month: int, day: int, hms: tuple[str, str, str], zone: timezone | None,
           fraction: str | None = None) -> float | None:
    try:
        moment = datetime(year, month, day, int(hms[0]), int(hms[1]), int(hms[2]), tzinfo=zone)
    except ValueError:  # 2026-02-31, 25:00:00: not a time
        return None
    return moment.timestamp() + (float("0." + fraction) if fraction else 0.0)


def _iso_time(m: re.Match[str]) -> float | None:
    g = m.groups()
    return _stamp(int(g[0]), int(g[1]), int(g[2]), (g[3], g[4], g[5]), _zone(g[7]), g[6])


def _clf_time(m: re.Match[str]) -> float | None:
    day, month, year, hh, mm, ss, zone = m.groups()
    if month not in MONTHS:
        return None
    return _stamp(int(year), MONTHS[month], int(day), (hh, mm, ss), _zone(zone))


def _syslog_time(m: re.Match[str], now: float) -> float | None:
    month, day, hh, mm, ss = m.groups()
    if month not in MONTHS:
        return None
    year = datetime.fromtimestamp(now).year
    stamp = _stamp(year, MONTHS[month], int(day), (hh, mm, ss), None)
    if stamp is not None and stamp > now + DAY:  # December's lines read in January
        stamp = _stamp(year - 1, MONTHS[month], int(day), (hh, mm, ss), None)
    return stamp


def _field_time(text: str) -> float | None:
    fields = parse_fields(text)
    if not fields:
        return None
    for key in TIME_KEYS:
        value = fields.get(key)
        if value is not None:
            return _value_time(value)
    return None


def value_time(value: str, now: float) -> float | None:
    """The moment a parsed time field names: an ISO time, a common log format time without its brackets
    (`10/Oct/2026:13:55:36 +0000`), a classic syslog time (`Oct 10 13:55:36`), or an epoch number."""
    m = _CLF.fullmatch(f"[{value}]") if "/" in value else None
    if m:
        return _clf_time(m)
    m = _SYSLOG.fullmatch(value) if value[:1].isalpha() else None
    if m:
        return _syslog_time(m, now)
    return _value_time(value)


def _value_time(value: str) -> float | None:
    number = as_number(value)
    if number is None:
        m = _ISO.fullmatch(value)
        return _iso_time(m) if m else None
    # Epoch numbers come in seconds (zap, logrus), milliseconds (pino, bunyan) or finer: tell by size.
    for scale in (1.0, 1e3, 1e6, 1e9):
        if abs(number) < 1e11 * scale:
            return number / scale
    return None


def parse_since(value: str, now: float) -> float:
    """The moment `since=` names: `30s`, `15m`, `2h`, `1d` ago, or an RFC 3339 time; ValueError naming
    `since` otherwise."""
    m = _RELATIVE.fullmatch(value)
    if m:
        return now - int(m.group(1)) * _UNITS[m.group(2)]
    m = _ISO.fullmatch(value)
    if m and m.group(8) is not None and "T" in value.upper():
        stamp = _iso_time(m)
        if stamp is not None:
            return stamp
    raise ValueError(f"since: {value[:100]!r} is neither a duration (30s, 15m, 2h, 1d) nor an RFC 3339 time "
                     "(2026-10-10T13:55:36Z)")
