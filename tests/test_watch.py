"""The inotify backend's coalescing reader: at once when quiet, at most once per interval when busy."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator

import pytest

from logtail.watch import CoalescingReader
from tests.streams import async_wait_for


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    os.set_blocking(r, False)
    try:
        yield r, w
    finally:
        os.close(r)
        os.close(w)


def drainer(fd: int, reads: list[tuple[float, bytes]]) -> Callable[[], None]:
    loop = asyncio.get_running_loop()

    def on_readable() -> None:
        try:
            reads.append((loop.time(), os.read(fd, 4096)))
        except BlockingIOError:
            reads.append((loop.time(), b""))

    return on_readable


async def test_a_lone_event_after_a_quiet_spell_is_read_at_once(pipe: tuple[int, int]) -> None:
    r, w = pipe
    reads: list[tuple[float, bytes]] = []
    reader = CoalescingReader(r, drainer(r, reads), interval=10.0)  # a long interval: only "quiet" can pass
    try:
        os.write(w, b"a")
        await async_wait_for(lambda: reads, within=5)
        assert [data for _, data in reads] == [b"a"]
    finally:
        reader.close()


async def test_busy_events_are_gathered_into_one_read_per_interval(pipe: tuple[int, int]) -> None:
    """Writes arriving faster than the interval: the first is read at once, the rest together once the
    interval is over; nothing is lost and reads are never closer than the interval."""
    r, w = pipe
    reads: list[tuple[float, bytes]] = []
    interval = 0.2
    reader = CoalescingReader(r, drainer(r, reads), interval)
    try:
        os.write(w, b"a")
        await async_wait_for(lambda: reads, within=5)
        for byte in b"bcde":
            os.write(w, bytes([byte]))
            await asyncio.sleep(0.01)
        await async_wait_for(lambda: b"".join(d for _, d in reads) == b"abcde", within=5)
        assert len(reads) == 2, reads
        assert reads[1][0] - reads[0][0] >= interval - 0.002  # the loop clock's resolution
    finally:
        reader.close()


async def test_close_while_set_aside_cancels_the_resume(pipe: tuple[int, int]) -> None:
    r, w = pipe
    reads: list[tuple[float, bytes]] = []
    reader = CoalescingReader(r, drainer(r, reads), interval=0.1)
    os.write(w, b"a")
    await async_wait_for(lambda: reads, within=5)
    os.write(w, b"b")
    await async_wait_for(lambda: reader.resume is not None, within=5)
    reader.close()
    await asyncio.sleep(0.2)
    assert [data for _, data in reads] == [b"a"]
