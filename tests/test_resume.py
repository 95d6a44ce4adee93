"""Where a stream starts: backlog, the window, read-back from the current file or `NAME.1`, and gaps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from logtail.cursor import Cursor, file_id
from logtail.filters import LineFilter
from logtail.follow import FileFollower
from logtail.hub import Hub
from logtail.resume import Plan, notice_frames, plan, read_lines

WINDOW = 5


class Log:
    """A real file followed into a real hub with a small window."""

    def __init__(self, path: Path, lines: list[str]) -> None:
        self.path = path
        self.hub = Hub(WINDOW, 1 << 20)
        path.write_text("".join(f"{line}\n" for line in lines))
        # rotate_wait=0: a renamed file is let go as soon as it is read to its end
        self.follower = FileFollower(path.name, path, self.hub, max_line_bytes=1000, seed_lines=100,
                                     from_start=True, rotate_wait=0)
        while self.follower.step():
            pass

    def cursor_after(self, line_no: int) -> Cursor:
        """The id of line `line_no` (1-based): where a client that saw it resumes."""
        data = self.path.read_bytes()
        end = len(b"".join(data.splitlines(keepends=True)[:line_no]))
        return Cursor(self.path.name, file_id(data, end), end)

    def plan(self, cursor: Cursor | None, backlog: int = 3, resume_max_bytes: int = 1 << 20,
             line_filter: LineFilter | None = None) -> Plan:
        ch = self.hub.channel(self.path.name)
        return plan(ch, self.follower, cursor, backlog, line_filter or LineFilter(), resume_max_bytes)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[Log]:
    log = Log(tmp_path / "app.log", [f"line {i:02d}" for i in range(1, 21)])
    try:
        yield log
    finally:
        log.follower.close()


async def read_back(p: Plan) -> list[str]:
    texts = []
    try:
        for rb in p.readbacks:
            async for lines in read_lines(p.log, rb, 1000):
                texts.extend(line.text for line in lines)
    finally:
        p.close()
    return texts


def test_without_a_cursor_the_backlog_comes_from_the_window(log: Log) -> None:
    p = log.plan(None, backlog=3)
    assert [line.text for line in p.lines] == ["line 18", "line 19", "line 20"] and not p.readbacks
    filtered = log.plan(None, backlog=3, line_filter=LineFilter(q="1"))
    assert [line.text for line in filtered.lines] == ["line 17", "line 18", "line 19"]  # the window: 16-20


def test_a_cursor_in_the_window_resumes_from_memory(log: Log) -> None:
    p = log.plan(log.cursor_after(18))
    assert [line.text for line in p.lines] == ["line 19", "line 20"] and not p.readbacks and not p.notices


async def test_a_cursor_before_the_window_is_read_back_from_the_file(log: Log) -> None:
    p = log.plan(log.cursor_after(7))
    assert not p.notices
    assert await read_back(p) == [f"line {i:02d}" for i in range(8, 21)]


async def test_a_cursor_in_the_rotated_file_reads_it_then_the_current_one(log: Log, tmp_path: Path) -> None:
    cursor = log.cursor_after(10)
    log.path.rename(tmp_path / "app.log.1")
    log.path.write_text("new 1\nnew 2\n")
    while log.follower.step():
        pass
    p = log.plan(cursor)
    assert not p.notices
    assert await read_back(p) == [f"line {i:02d}" for i in range(11, 21)] + ["new 1", "new 2"]


async def test_a_position_in_no_file_is_a_gap_then_the_whole_current_file(log: Log) -> None:
    p = log.plan(Cursor("app.log", "0123456789ab", 10))
    assert [(kind, extra) for kind, _, extra in p.notices] == [("gap", {})]
    assert await read_back(p) == [f"line {i:02d}" for i in range(1, 21)]


async def test_read_back_is_capped_at_resume_max_bytes_with_a_gap_saying_how_much(log: Log) -> None:
    p = log.plan(log.cursor_after(2), resume_max_bytes=30)  # 8 bytes a line: the last 3 lines and a cut one
    assert [(kind, extra) for kind, _, extra in p.notices] == [("gap", {"skipped_bytes": 18 * 8 - 30})]
    frame = json.loads(notice_frames(p, "ndjson"))
    assert frame["kind"] == "gap" and frame["skipped_bytes"] == 114 and frame["log"] == "app.log"
    assert await read_back(p) == ["line 18", "line 19", "line 20"]  # the partial first line is dropped
