"""Resume read-back: reading a range of a file off the event loop, safely against the caller closing it."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from logtail.resume import ReadBack, read_lines


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
        got = [line async for batch in read_lines("app.log", rb, 1024) for line in batch]
    finally:
        os.close(fd)
    assert [(x.text, x.end) for x in got] == [("two", 8), ("three", 14)]
