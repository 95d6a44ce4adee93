"""The backlog of a multi-log stream in time order, not log after log.

A stream of several logs starts with each log's last lines. Sent log by log, a page watching two hosts shows
one host's 02:52:57 above the other's 02:52:08. Here the backlogs are merged by when each line was written:
the time its source stored it (a shipped line's Redis entry), else the time the line itself shows (its
parser's time field, or a timestamp at its start: match/timestamps.py), else the time of the line before it
in its log (a traceback's lines follow their first). Lines before the first known time of their log take
that time; a log with no time at all counts as arrived now (it was written by the time the stream opened),
so it comes last. A log's own lines are never reordered: the merge only ever takes the next line of a log.
Live lines need none of this: they are sent as they arrive.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator

from logtail.core.frames import Line
from logtail.match.timestamps import line_time

Run = tuple[str, list[Line]]  # consecutive lines of one log


def interleave(backlogs: dict[str, list[Line]], entry_time: Callable[[Line], float | None], now: float) -> list[Run]:
    """The backlogs as runs of one log's lines, in the order the lines were written (ties: the logs' order)."""
    timed = [_keyed(rank, lines, entry_time, now) for rank, lines in enumerate(backlogs.values()) if lines]
    if len(timed) < 2:
        return [(log, lines) for log, lines in backlogs.items() if lines]
    runs: list[Run] = []
    for _, _, _, line in heapq.merge(*timed):
        if runs and runs[-1][0] == line.log:
            runs[-1][1].append(line)
        else:
            runs.append((line.log, [line]))
    return runs


def _keyed(rank: int, lines: list[Line], entry_time: Callable[[Line], float | None],
           now: float) -> Iterator[tuple[float, int, int, Line]]:
    times = [_time_of(line, entry_time, now) for line in lines]
    known = next((t for t in times if t is not None), now)
    for seq, (line, t) in enumerate(zip(lines, times, strict=True)):
        known = known if t is None else t
        yield known, rank, seq, line


def _time_of(line: Line, entry_time: Callable[[Line], float | None], now: float) -> float | None:
    stored = entry_time(line)
    if stored is not None:
        return stored
    return line.parser.time(line.text, now) if line.parser is not None else line_time(line.text, now)
