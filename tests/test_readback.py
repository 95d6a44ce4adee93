"""Resume read-back: where it starts (the current file, `NAME.1`, after a hole), its bound, and reading a
range of a file off the event loop, safely against the caller closing it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from logtail.core.block import LineBlock, lines_of
from logtail.core.cursor import HEAD_BYTES, Cursor, file_id
from logtail.core.hub import Hub
from logtail.sources.files.follow import FileFollower
from logtail.sources.files.readback import (
    Plan,
    ReadBack,
    notice_frames,
    plan_lines,
    plan_read_back,
    read_back,
    read_lines,
)


async def test_cancelled_read_back_does_not_close_under_a_running_read(tmp_path: Path) -> None:
    """Regression: `read_lines` read blocks with `asyncio.to_thread`, so a stream cancelled mid-read (client
    gone) ran its `finally` and closed the plan's descriptors while a worker thread was still in `pread` on
    one of them; the number could meanwhile name another open file."""
    path = tmp_path / "app.log"
    path.write_bytes(b"one\ntwo\n")
    fd = os.open(path, os.O_RDONLY)
    started, release = threading.Event(), threading.Event()
    events: list[str] = []

    def reader(fd: int, offset: int, size: int) -> bytes:
        started.set()
        release.wait(10)
        data = os.pread(fd, size, offset)  # EBADF if the descriptor was closed meanwhile
        events.append("read")
        return data

    async def stream() -> None:
        try:
            async for _ in read_lines("app.log", ReadBack(fd, b"", 0, 8), 1024, reader):
                pass
        finally:
            os.close(fd)
            events.append("closed")

    task = asyncio.create_task(stream())
    await asyncio.to_thread(started.wait, 10)
    task.cancel()
    await asyncio.sleep(0.2)
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert events == ["read", "closed"]


async def test_read_lines_gives_every_line_with_its_cursor(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"one\ntwo\nthree\n")
    fd = os.open(path, os.O_RDONLY)
    try:
        rb = ReadBack(fd, b"one\ntwo\nthree\n", 4, 14)
        got = [line async for batch in read_lines("app.log", rb, 1024) for line in lines_of(batch)]
    finally:
        os.close(fd)
    assert [(x.text, x.end) for x in got] == [("two", 8), ("three", 14)]


async def test_read_lines_gives_clean_lines_past_the_head_as_blocks_of_bytes(tmp_path: Path) -> None:
    """What a laggard is caught up with: past the file's head, clean lines come as the bytes read, with the
    same lines and ids as line by line; a line that is not clean (CR) is read line by line."""
    path = tmp_path / "app.log"
    head = b"".join(b"head %03d\n" % i for i in range(40))  # 360 bytes: more than HEAD_BYTES
    body = b"".join(b"line %05d\n" % i for i in range(50_000)) + b"crlf\r\n" + b"after\n"
    path.write_bytes(head + body)
    fd = os.open(path, os.O_RDONLY)
    try:
        rb = ReadBack(fd, head[:HEAD_BYTES], 0, len(head + body))
        batches = [batch async for batch in read_lines("app.log", rb, 1024)]
    finally:
        os.close(fd)
    assert any(isinstance(b, LineBlock) and b.data for b in batches)
    got = [line for batch in batches for line in lines_of(batch)]
    expected, end = [], 0
    for raw in (head + body).split(b"\n")[:-1]:
        end += len(raw) + 1
        expected.append((raw.removesuffix(b"\r").decode(), end, file_id(head, end)))
    assert [(x.text, x.end, x.fid) for x in got] == expected


# --- where a read-back starts: the current file, NAME.1, or after a hole -------------------------------------

class Log:
    """A real file followed into a real hub with a small window."""

    def __init__(self, path: Path, lines: list[str]) -> None:
        self.path = path
        self.hub = Hub(5, 1 << 20)
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

    def read_back(self, cursor: Cursor, resume_max_bytes: int = 1 << 20) -> Plan:
        return read_back(self.hub.channel(self.path.name), self.follower, cursor, resume_max_bytes)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[Log]:
    log = Log(tmp_path / "app.log", [f"line {i:02d}" for i in range(1, 21)])
    try:
        yield log
    finally:
        log.follower.close()


async def texts(p: Plan) -> list[str]:
    try:
        return [line.text async for lines in plan_lines(p, 1000) for line in lines_of(lines)]
    finally:
        p.close()


async def test_a_cursor_in_the_current_file_is_read_back_from_there(log: Log) -> None:
    p = log.read_back(log.cursor_after(7))
    assert not p.notices
    assert await texts(p) == [f"line {i:02d}" for i in range(8, 21)]


async def test_a_cursor_in_the_rotated_file_reads_it_then_the_current_one(log: Log, tmp_path: Path) -> None:
    cursor = log.cursor_after(10)
    log.path.rename(tmp_path / "app.log.1")
    log.path.write_text("new 1\nnew 2\n")
    while log.follower.step():
        pass
    p = log.read_back(cursor)
    assert not p.notices
    assert await texts(p) == [f"line {i:02d}" for i in range(11, 21)] + ["new 1", "new 2"]


async def test_a_position_in_no_file_is_a_gap_then_the_whole_current_file(log: Log) -> None:
    p = log.read_back(Cursor("app.log", "0123456789ab", 10))
    assert [kind for kind, _, _ in p.notices] == ["gap"] and p.lost
    assert await texts(p) == [f"line {i:02d}" for i in range(1, 21)]


async def test_read_back_is_capped_at_resume_max_bytes_with_a_gap_saying_how_much(log: Log) -> None:
    p = log.read_back(log.cursor_after(2), resume_max_bytes=30)  # 8 bytes a line: the last 3 lines and a cut one
    assert [(kind, extra) for kind, _, extra in p.notices] == [("gap", {"skipped_bytes": 18 * 8 - 30})]
    frame = json.loads(notice_frames(p, "ndjson"))
    assert frame["kind"] == "gap" and frame["skipped_bytes"] == 114 and frame["log"] == "app.log"
    assert await texts(p) == ["line 18", "line 19", "line 20"]  # the partial first line is dropped


# --- where the files are opened: never on the event loop -----------------------------------------------------

_recording: list[tuple[threading.Thread, str, list[str]]] = []  # (thread, directory, paths opened there)


def _on_audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _recording:
        thread, directory, opened = _recording[-1]
        if threading.current_thread() is thread and str(args[0]).startswith(directory):
            opened.append(str(args[0]))


sys.addaudithook(_on_audit)  # for the whole process (a hook cannot be removed): it records only when asked


@contextlib.contextmanager
def opens_on_this_thread(directory: Path) -> Iterator[list[str]]:
    """The files under `directory` that this thread opens meanwhile (`os.open` raises the `open` audit event)."""
    opened: list[str] = []
    _recording.append((threading.current_thread(), str(directory), opened))
    try:
        yield opened
    finally:
        _recording.pop()


async def test_planning_a_read_back_opens_no_file_on_the_event_loop(log: Log, tmp_path: Path) -> None:
    """Resume and catch-up opened `NAME.1`, `NAME.2`, ... and `fstat`-ed them on the event loop (without
    blocking, but system calls that serve one request): now the plan is made in a worker thread."""
    cursor = log.cursor_after(10)
    log.path.rename(tmp_path / "app.log.1")
    log.path.write_text("new 1\n")
    while log.follower.step():
        pass
    ch = log.hub.channel("app.log")
    with opens_on_this_thread(tmp_path) as on_loop:
        p = await plan_read_back(ch, log.follower, cursor, 1 << 20)
        lost = await plan_read_back(ch, log.follower, Cursor("app.log", "0123456789ab", 10), 1 << 20)
    assert on_loop == []
    assert await texts(p) == [f"line {i:02d}" for i in range(11, 21)] + ["new 1"]
    assert lost.lost and await texts(lost) == ["new 1"]  # app.log.1 is walked, and not known to come after
    with opens_on_this_thread(tmp_path) as here:  # the recorder sees the same plan made in this thread
        read_back(ch, log.follower, cursor, 1 << 20).close()
    assert here == [str(tmp_path / "app.log.1")]
