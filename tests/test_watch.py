"""Change notification: each backend wakes the follower of a file that changed and finds new glob matches;
the inotify backend's coalescing reader reads at once when quiet, at most once per interval when busy."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from logtail.config import LogSource, Settings
from logtail.core.hub import Hub
from logtail.sources.files.table import FileTable
from logtail.sources.files.watch import CoalescingReader, pick_backend, read_events, watch
from tests.streams import async_wait_for


async def wait_until(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.01)


def test_auto_is_inotify_on_linux() -> None:
    assert pick_backend("auto") == "inotify" and pick_backend("poll") == "poll"


@pytest.mark.parametrize(("backend", "poll_interval"), [("inotify", 60.0), ("watchfiles", 60.0), ("poll", 0.2)])
async def test_backend_wakes_the_follower_and_sees_new_glob_matches(tmp_path: Path, backend: str,
                                                                    poll_interval: float) -> None:
    """The rescan runs only every `poll_interval`: with 60 s, what happens within the test is the backend's."""
    (tmp_path / "a.log").write_text("a\n")
    settings = Settings(sources=(LogSource(None, tmp_path / "*.log", is_glob=True),), poll_interval=poll_interval)
    reg = FileTable(settings, Hub(10, 1 << 20))
    reg.expand_globs()
    entry = reg.get("a.log")
    assert entry is not None
    task = asyncio.create_task(watch(reg, backend, poll_interval))
    try:
        await asyncio.sleep(0.3)  # the backend's watches are in place
        entry.follower.wakeup.clear()
        with (tmp_path / "a.log").open("a") as f:
            f.write("more\n")
        await wait_until(entry.follower.wakeup.is_set)
        (tmp_path / "b.log").write_text("b\n")
        await wait_until(lambda: "b.log" in reg)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        reg.close()


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    os.set_blocking(r, False)
    try:
        yield r, w
    finally:
        os.close(r)
        os.close(w)


def drainer(fd: int, reads: list[tuple[float, bytes]]) -> Callable[[], bool]:
    loop = asyncio.get_running_loop()

    def on_readable() -> bool:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            data = b""
        reads.append((loop.time(), data))
        return bool(data)

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


async def test_a_busy_log_sets_the_descriptor_aside_until_it_is_due(pipe: tuple[int, int]) -> None:
    """With `due`, an event before the woken log's next read sets the descriptor aside until then; the
    writes in between wake nothing and come in one read, after which (the log being busy) the descriptor is
    set aside again at once, before any event."""
    r, w = pipe
    reads: list[tuple[float, bytes]] = []
    pace = 0.3
    due = [float("-inf")]
    drain = drainer(r, reads)

    def on_readable() -> bool:  # a follower that reads, then is due again in `pace` seconds
        due[0] = time.monotonic() + pace
        return drain()

    reader = CoalescingReader(r, on_readable, interval=0.001, due=lambda: due[0])
    try:
        os.write(w, b"a")
        await async_wait_for(lambda: reads, within=5)
        assert reader.resume is None  # a read after a quiet spell: nothing is set aside yet
        for byte in b"bcd":
            os.write(w, bytes([byte]))
        await async_wait_for(lambda: b"".join(d for _, d in reads) == b"abcd", within=5)
        assert [d for _, d in reads] == [b"a", b"bcd"]
        assert reads[1][0] - reads[0][0] >= pace - 0.002  # the loop clock's resolution
        await async_wait_for(lambda: reader.resume is not None, within=5)  # busy: set aside with no event
    finally:
        reader.close()


async def test_a_log_that_stays_busy_is_read_from_the_timer_without_watching_the_descriptor(
        pipe: tuple[int, int]) -> None:
    """While every due read finds something, the descriptor is never handed back to the loop: each read comes
    from the timer. Once a due read finds nothing it is watched again, and the next write is read at once."""
    r, w = pipe
    reads: list[tuple[float, bytes]] = []
    watched_at_read: list[bool] = []
    pace = 0.05
    due = [float("-inf")]
    drain = drainer(r, reads)

    def on_readable() -> bool:
        watched_at_read.append(reader.watching)
        got = drain()
        if got:
            due[0] = time.monotonic() + pace
        return got

    reader = CoalescingReader(r, on_readable, interval=0.001, due=lambda: due[0])
    try:
        os.write(w, b"a")
        await async_wait_for(lambda: reads, within=5)
        for byte in b"bcdefghij":  # faster than the pace: every due read finds something
            os.write(w, bytes([byte]))
            await asyncio.sleep(pace / 5)
        await async_wait_for(lambda: b"".join(d for _, d in reads) == b"abcdefghij", within=5)
        await async_wait_for(lambda: reader.watching, within=5)  # a due read found nothing
        assert watched_at_read[0] is True  # the first write, after a quiet spell: read as an event
        busy = [watched for (_, data), watched in zip(reads[1:], watched_at_read[1:], strict=True) if data]
        assert len(busy) >= 2 and not any(busy), (reads, watched_at_read)
        assert reads[-1][1] == b"" and reader.resume is None
        due[0] = float("-inf")
        os.write(w, b"z")  # (within `interval` of the last read it may still come by a short timer)
        await async_wait_for(lambda: reads[-1][1] == b"z", within=5)
    finally:
        reader.close()


async def test_a_due_read_that_fails_leaves_the_descriptor_watched(pipe: tuple[int, int]) -> None:
    """The descriptor is off the loop while a busy log waits: a failure in the timer's read must not leave
    it there, or the watcher would go deaf."""
    r, w = pipe
    reads: list[tuple[float, bytes]] = []
    due = [float("-inf")]
    drain = drainer(r, reads)
    calls = 0

    def on_readable() -> bool:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("a failed read")
        due[0] = time.monotonic() + 0.05
        return drain()

    asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)  # the failure is expected
    reader = CoalescingReader(r, on_readable, interval=0.001, due=lambda: due[0])
    try:
        os.write(w, b"a")
        await async_wait_for(lambda: reads, within=5)
        os.write(w, b"b")  # busy: set aside, then read from the timer, which fails
        await async_wait_for(lambda: b"".join(d for _, d in reads) == b"ab", within=5)
        assert calls >= 3  # "b" came after the failed read
    finally:
        reader.close()


async def test_an_idle_descriptor_is_not_polled(pipe: tuple[int, int]) -> None:
    """Nothing due (no busy log): after a read the descriptor stays watched and nothing reads it again
    until something is written."""
    r, w = pipe
    reads: list[tuple[float, bytes]] = []
    reader = CoalescingReader(r, drainer(r, reads), interval=0.01, due=lambda: float("-inf"))
    try:
        os.write(w, b"a")
        await async_wait_for(lambda: reads, within=5)
        await asyncio.sleep(0.1)  # ten intervals: a reader that polls would have read (nothing) by now
        assert [d for _, d in reads] == [b"a"] and reader.resume is None
        os.write(w, b"b")
        await async_wait_for(lambda: len(reads) == 2, within=5)
        assert reads[1][1] == b"b"
    finally:
        reader.close()


def test_read_events_empties_a_queue_longer_than_its_buffer(tmp_path: Path) -> None:
    from inotify_simple import INotify, flags, parse_events

    with INotify(nonblocking=True) as inotify:
        assert read_events(inotify.fileno(), parse_events) == []
        inotify.add_watch(str(tmp_path), flags.CREATE)
        names = [f"{i:04d}" + "x" * 200 for i in range(600)]  # ~135 KB of events: more than one buffer
        for name in names:
            (tmp_path / name).touch()
        events = read_events(inotify.fileno(), parse_events)
        assert [e.name for e in events] == names
        assert read_events(inotify.fileno(), parse_events) == []
