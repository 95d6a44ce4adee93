"""The benchmark workload: the lines the writer appends and the filters the readers ask for.

Every line carries its sequence number and the wall-clock time it was written (`time.time_ns()`), so a
reader on the same machine can tell loss, duplicates and write-to-receive latency from the line alone:

    seq=000000123 ts=1763712345678901234 lvl=INFO msg=benchxxxxxxxx...

The sequence number has a fixed width so a reader can slice it out of a byte buffer without parsing. The
line is logfmt (only key=value pairs), so field filters apply to it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import lru_cache

SEQ_DIGITS = 9
SEQ_PREFIX = b"seq="
TS_OFFSET = len("seq=") + SEQ_DIGITS + len(" ts=")  # from the start of "seq=" to the first digit of ts
TS_DIGITS = 19  # time.time_ns() has 19 digits from 2001 to 2286
REGEX_PATTERNS = 1000
FIELD_FILTERS = 100


def format_line(seq: int, ts_ns: int, payload: str) -> str:
    return f"seq={seq:0{SEQ_DIGITS}d} ts={ts_ns} lvl=INFO {payload}\n"


def make_payload(line_bytes: int) -> str:
    """Padding so that a whole line is about `line_bytes` long."""
    fixed = len(format_line(0, time.time_ns(), ""))
    return "msg=bench" + "x" * max(0, line_bytes - fixed - len("msg=bench"))


class Selection:
    """Which sequence numbers one stream should carry: those whose `seq % period` is a residue in `mask`."""

    __slots__ = ("_next", "_prefix", "mask", "per_period", "period", "regex")

    def __init__(self, mask: tuple[bool, ...], regex: str | None) -> None:
        self.mask = mask
        self.period = len(mask)
        self.regex = regex
        prefix = [0]
        for selected in mask:
            prefix.append(prefix[-1] + selected)
        self._prefix = prefix
        self.per_period = prefix[-1]
        # _next[r]: distance from residue r to the next selected residue (possibly in the next period)
        self._next = [0] * self.period
        following = self.period + mask.index(True)
        for r in range(self.period - 1, -1, -1):
            if mask[r]:
                following = r
            self._next[r] = following - r

    def count_below(self, seq: int) -> int:
        """How many selected sequence numbers are in [0, seq)."""
        q, r = divmod(seq, self.period)
        return q * self.per_period + self._prefix[r]

    def count_between(self, lo: int, hi: int) -> int:
        """How many selected sequence numbers are in [lo, hi]."""
        return self.count_below(hi + 1) - self.count_below(lo)

    def next_selected(self, seq: int) -> int:
        """The smallest selected sequence number >= seq."""
        return seq + self._next[seq % self.period]

    def selects(self, seq: int) -> bool:
        return self.mask[seq % self.period]


ALL_LINES = Selection((True,), None)


@lru_cache(maxsize=REGEX_PATTERNS)
def regex_selection(index: int) -> Selection:
    """The regex filter of reader `index`: 1,000 distinct patterns, each selecting about half the lines.

    Pattern r selects the lines whose sequence number ends in the three digits r, or in 0-4: every pattern
    is different (so a server cannot share one evaluation between clients) yet each stream still carries
    ~500 lines/s at 1,000 lines/s, so the scenario measures filtering *and* fan-out.
    """
    r = index % REGEX_PATTERNS
    regex = rf"seq=\d{{{SEQ_DIGITS - 3}}}(?:{r:03d}|\d\d[0-4]) "
    mask = tuple(k == r or k % 10 < 5 for k in range(REGEX_PATTERNS))
    return Selection(mask, regex)


@lru_cache(maxsize=FIELD_FILTERS)
def field_selection(index: int) -> Selection:
    """The field filter of reader `index`: 100 distinct `field=seq~...` filters, each selecting ~half the lines.

    Filter r selects the lines whose sequence number ends in the two digits r, or whose tens digit is 0-4.
    """
    r = index % FIELD_FILTERS
    mask = tuple(k == r or k // 10 < 5 for k in range(FIELD_FILTERS))
    return Selection(mask, rf"seq~(?:{r:02d}|[0-4]\d)$")


def selection(kind: str, index: int) -> Selection:
    """Reader `index`'s selection for a scenario's filter kind ("regex" or "field")."""
    return field_selection(index) if kind == "field" else regex_selection(index)


def filter_query(kind: str, index: int) -> str:
    """The query parameter that asks the server for reader `index`'s selection."""
    from urllib.parse import quote

    return f"&{kind}=" + quote(selection(kind, index).regex or "", safe="")


@dataclass
class WriteStats:
    lines: int
    first_ns: int
    last_ns: int
    max_behind_ms: float  # how far the writer fell behind its schedule (0 when writing flat out)


class LineWriter:
    """Appends bench lines to one file with plain `os.write` calls (O_APPEND), like a logging process."""

    def __init__(self, path: str, line_bytes: int) -> None:
        self.path = path
        self.payload = make_payload(line_bytes)
        self.next_seq = 0

    def _write(self, fd: int, count: int) -> int:
        ts = time.time_ns()
        seq, payload = self.next_seq, self.payload
        os.write(fd, "".join([format_line(s, ts, payload) for s in range(seq, seq + count)]).encode())
        self.next_seq += count
        return ts

    def at_rate(self, rate: float, count: int) -> WriteStats:
        """Write `count` lines, line i at t0 + i/rate; lines that fell due together go out in one write."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            t0 = time.perf_counter()
            written, first_ns, last_ns, behind = 0, 0, 0, 0.0
            while written < count:
                elapsed = time.perf_counter() - t0
                due = min(count, int(elapsed * rate) + 1)
                if due > written:
                    behind = max(behind, elapsed - written / rate)
                    last_ns = self._write(fd, due - written)
                    first_ns = first_ns or last_ns
                    written = due
                else:
                    time.sleep(max(0.0, written / rate - elapsed))
            return WriteStats(written, first_ns, last_ns, behind * 1000)
        finally:
            os.close(fd)

    def flat_out(self, count: int, batch: int = 2000) -> WriteStats:
        """Write `count` lines as fast as possible, `batch` lines per write."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            first_ns = last_ns = 0
            for start in range(0, count, batch):
                last_ns = self._write(fd, min(batch, count - start))
                first_ns = first_ns or last_ns
            return WriteStats(count, first_ns, last_ns, 0.0)
        finally:
            os.close(fd)
