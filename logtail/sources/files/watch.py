"""Change notification: wake the right followers when something happens in a watched directory.

Directories are watched, not files: after a rename, a watch on the file keeps reporting the old inode and
never sees the new file (watchfiles and inotify both behave so). Three backends:

- `inotify` (Linux, the default): one inotify descriptor registered with the event loop (`add_reader`), so
  a write wakes its follower in well under a millisecond and an idle server uses no CPU. `inotify_simple`
  only wraps the system calls; the loop integration is ours because no library offers it on asyncio.
  Reads are coalesced by rate: after a quiet spell the first event is read at once, but while events keep
  coming the descriptor is set aside until the logs those events woke are due to be read again (their
  pace, pacing.py; at least `MIN_INTERVAL`). Meanwhile the kernel merges repeated events (a file written
  8 times is one IN_MODIFY), so a busy log costs one wake-up, one read and one send per interval instead of
  per write. The price: while one log is busy, a change to another log in the same process waits for the
  same moment, at most `LATENCY_BUDGET`.
- `watchfiles`: portable, one `awatch` over all directories, tuned (`step`=5 ms, `debounce`=50 ms) from its
  defaults, which add 50-100 ms per line.
- `poll`: nothing but the periodic rescan (for NFS and other filesystems without change events).

Whatever the backend, a rescan every `poll_interval` seconds wakes every follower and re-expands globs; it
is the safety net for events a backend cannot see (a directory created later, a symlink retargeted).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from logtail.sources.files.pacing import MIN_INTERVAL
from logtail.sources.files.table import FileTable

EVENTS_BUFFER = 64 * 1024
LARGEST_EVENT = 16 + 256  # struct inotify_event, then a name of up to NAME_MAX bytes and its NUL

log = logging.getLogger(__name__)


def pick_backend(name: str) -> str:
    if name == "auto":
        return "inotify" if sys.platform.startswith("linux") else "watchfiles"
    return name


async def rescan_forever(registry: FileTable, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        registry.wake_all()


async def watch(registry: FileTable, backend: str, poll_interval: float) -> None:
    """Run the chosen backend and the periodic rescan until cancelled."""
    backend = pick_backend(backend)
    async with asyncio.TaskGroup() as group:
        group.create_task(rescan_forever(registry, poll_interval), name="rescan")
        if backend == "inotify":
            group.create_task(watch_inotify(registry), name="inotify")
        elif backend == "watchfiles":
            group.create_task(watch_watchfiles(registry), name="watchfiles")


async def watch_inotify(registry: FileTable) -> None:
    from inotify_simple import INotify, flags, parse_events

    mask = (flags.MODIFY | flags.CREATE | flags.DELETE | flags.MOVED_FROM | flags.MOVED_TO | flags.ATTRIB
            | flags.CLOSE_WRITE | flags.DELETE_SELF | flags.MOVE_SELF)
    watched: dict[int, Path] = {}
    masks = _Masks(int(flags.CREATE | flags.MOVED_TO), int(flags.Q_OVERFLOW), int(flags.IGNORED))
    with INotify(nonblocking=True) as inotify:
        fd = inotify.fileno()
        reader = CoalescingReader(fd, lambda: _dispatch(read_events(fd, parse_events), watched, registry, masks),
                                  MIN_INTERVAL, registry.next_read)
        try:
            while True:  # keep the watched directories in step with the registry
                _sync_watches(inotify, watched, registry.directories(), mask)
                registry.changed.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(registry.settings.poll_interval):
                        await registry.changed.wait()
        finally:
            reader.close()


class CoalescingReader:
    """Calls `on_readable` when `fd` is readable: at once after a quiet spell; while it keeps being readable,
    not before `interval` has passed since the last call nor before `due()`. Until then the descriptor is
    left unwatched, so the events in between wake nothing.

    When that time comes the descriptor (non-blocking) is read straight from the timer, whether or not
    something came. With `due`, a read then that found something sets the descriptor aside again as soon as
    the followers it woke have read and set their pace, without watching it in between: a log that stays
    busy costs one wake-up (the timer) and one read of the descriptor per read of the log, and no
    registration with the loop (in uvloop, adding and removing a reader take five system calls). A read that
    found nothing watches the descriptor again, so the next event after the log goes quiet is read at once.
    A call made at once after a quiet spell leaves the descriptor watched: a lone line would otherwise cost
    a second wake-up, the timer finding nothing.

    It runs straight from the loop's callbacks: no task or future per event. Times are `time.monotonic()`,
    the clock of `due()`.
    """

    def __init__(self, fd: int, on_readable: Callable[[], bool], interval: float,
                 due: Callable[[], float] | None = None) -> None:
        self.fd = fd
        self.on_readable = on_readable
        self.interval = interval
        self.due = due
        self.loop = asyncio.get_running_loop()
        self.last = float("-inf")
        self.resume: asyncio.TimerHandle | None = None
        self.watching = False
        self._watch()

    def _next(self) -> float:
        due = self.last + self.interval
        return due if self.due is None else max(due, self.due())

    def _readable(self) -> None:
        now = time.monotonic()
        due = self._next()
        if now < due:  # busy: let the kernel gather (and merge) events until then
            self._set_aside(due - now)
            return
        self.last = now
        self.on_readable()  # a lone line after a quiet spell: the descriptor stays watched

    def _resume(self) -> None:
        # Due: read whether or not something came, straight from the timer (the descriptor is non-blocking).
        # While the log stays busy the descriptor is never watched at all: registering it with the loop and
        # taking it off again cost more system calls than the read itself.
        self.resume = None
        self.last = time.monotonic()
        found = False
        try:
            found = self.on_readable()
        finally:
            if not found or self.due is None:
                self._watch()  # nothing came (or the read failed): the next event is read at once
        if found and self.due is not None and not self._set_aside_until_due():
            # A follower woken by this read steps in its own task: set aside once it has read and set its pace.
            self.loop.call_soon(self._after_read)

    def _after_read(self) -> None:
        if self.resume is None and not self._set_aside_until_due():
            self._watch()

    def _set_aside_until_due(self) -> bool:
        # Only for a follower that has a read due (not for `interval` alone: an idle descriptor would then be
        # polled every interval).
        assert self.due is not None
        delay = self.due() - time.monotonic()
        if delay <= 0:
            return False
        self._set_aside(delay)
        return True

    def _set_aside(self, delay: float) -> None:
        if self.watching:
            self.loop.remove_reader(self.fd)
            self.watching = False
        self.resume = self.loop.call_later(delay, self._resume)

    def _watch(self) -> None:
        if not self.watching:
            self.loop.add_reader(self.fd, self._readable)
            self.watching = True

    def close(self) -> None:
        if self.resume is not None:
            self.resume.cancel()
        if self.watching:
            self.loop.remove_reader(self.fd)


def _sync_watches(inotify: object, watched: dict[int, Path], wanted: set[Path], mask: int) -> None:
    have = set(watched.values())
    for directory in wanted - have:
        try:
            wd = inotify.add_watch(str(directory), mask)  # type: ignore[attr-defined]
        except OSError as exc:
            log.debug("cannot watch %s: %s", directory, exc)
            continue
        watched[wd] = directory
        log.debug("watching %s", directory)


class _Masks(NamedTuple):
    # inotify flags as plain ints: an `IntFlag` operation runs Python code, a few per event add up
    created: int
    overflow: int
    ignored: int


def read_events(fd: int, parse: Callable[[bytes], list[Any]]) -> list[Any]:
    """Every event queued on a non-blocking inotify descriptor, parsed by `parse` (inotify_simple's).

    Read here rather than with `INotify.read`, which asks FIONREAD first through ctypes: a system call and a
    good part of the cost of a busy log's wake-up. The kernel returns whole events only, so a read shorter
    than the buffer by more than the largest event has emptied the queue.
    """
    events: list[Any] = []
    while True:
        try:
            data = os.read(fd, EVENTS_BUFFER)
        except BlockingIOError:
            return events
        events.extend(parse(data))
        if len(data) < EVENTS_BUFFER - LARGEST_EVENT:
            return events


def _dispatch(events: list[Any], watched: dict[int, Path], registry: FileTable, masks: _Masks) -> bool:
    """Wake the followers `events` concern; False when there were none."""
    registry.woken.clear()
    for event in events:
        mask = event.mask
        if mask & masks.overflow:
            registry.wake_all()
            continue
        if mask & masks.ignored:
            watched.pop(event.wd, None)  # the directory went away; the rescan re-adds it when it is back
            registry.wake_all()
            continue
        directory = watched.get(event.wd)
        if directory is not None:
            registry.on_change(directory, event.name or None, bool(mask & masks.created))
    return bool(events)


async def watch_watchfiles(registry: FileTable) -> None:
    from watchfiles import Change, awatch

    while True:
        dirs = registry.directories()
        if not dirs:
            await asyncio.sleep(registry.settings.poll_interval)
            continue
        stop = asyncio.Event()
        registry.changed.clear()
        stopper = asyncio.ensure_future(_stop_when_changed(registry, dirs, stop))
        try:
            async for changes in awatch(*dirs, stop_event=stop, step=5, debounce=50, recursive=False,
                                        yield_on_timeout=False, ignore_permission_denied=True,
                                        watch_filter=None):
                registry.woken.clear()
                for change, raw in changes:
                    path = Path(raw)
                    registry.on_change(path.parent, path.name, change == Change.added)
        finally:
            stopper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stopper


async def _stop_when_changed(registry: FileTable, dirs: set[Path], stop: asyncio.Event) -> None:
    """Restart `awatch` when the set of directories to watch changes (new glob matches, new dirs)."""
    while True:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(registry.settings.poll_interval):
                await registry.changed.wait()
        registry.changed.clear()
        if registry.directories() != dirs:
            stop.set()
            return
