"""Follow one file by name, like `tail -F`: rotation, truncation, deletion and re-creation.

A `FileFollower` is woken by the watcher (a change in the file's directory) or by the periodic rescan, and
each `step()` reads at most `step_bytes` with `os.pread` (page-cache reads of bounded size are cheap enough to
stay on the event loop; a thread hop per read would cost more than the read). One follower per file feeds
the hub whatever the number of clients.

The policy, in order of checks:
- the path is gone: drain the open file to its end, notice `missing`, wait for it to come back (`appeared`,
  read from 0);
- the path names another file (rename rotation): drain the old file, notice `rotated`, follow the new one
  from 0;
- the open file is shorter than our offset, or its first bytes changed (copytruncate, rewrite): notice
  `truncated`, continue from 0;
- the file cannot be opened (permissions): notice `unreadable` once, retry on every wake-up.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from .cursor import HEAD_BYTES, Cursor, file_id
from .hub import Hub
from .lines import LineSplitter
from .sse import Line

log = logging.getLogger(__name__)

READ_BYTES = 256 * 1024
# Bytes read (and fanned out) per step before the loop runs others: with hundreds of filter groups a step's
# fan-out is the longest the event loop is held.
STEP_BYTES = 256 * 1024
SEED_MAX_BYTES = 16 * 1024 * 1024
ROTATED_KEPT = 4


@dataclass
class Generation:
    """One open file: a single instance of the followed name between rotations or truncations."""

    fd: int
    dev: int
    ino: int
    head: bytes = b""
    _full_id: str = field(default="", repr=False)

    def fid(self, offset: int) -> str:
        if offset >= HEAD_BYTES and len(self.head) >= HEAD_BYTES:
            if not self._full_id:
                self._full_id = file_id(self.head, offset)
            return self._full_id
        return file_id(self.head, offset)

    def refresh_head(self) -> None:
        if len(self.head) < HEAD_BYTES:
            self.head = os.pread(self.fd, HEAD_BYTES, 0)

    def head_changed(self) -> bool:
        return bool(self.head) and os.pread(self.fd, len(self.head), 0) != self.head

    def close(self) -> None:
        os.close(self.fd)


def open_generation(path: Path) -> Generation:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise IsADirectoryError(f"{path} is not a regular file")
        gen = Generation(fd, st.st_dev, st.st_ino)
        gen.refresh_head()
        return gen
    except BaseException:
        os.close(fd)
        raise


def seed_offset(fd: int, size: int, lines: int) -> int:
    """Where the last `lines` complete lines start, reading back at most SEED_MAX_BYTES.

    A line starts after a newline, so the answer is just after the (lines+1)-th newline from the end.
    """
    pos, found = size, 0
    while pos > 0 and size - pos < SEED_MAX_BYTES:
        start = max(0, pos - 65536)
        block = os.pread(fd, pos - start, start)
        idx = len(block)
        while (idx := block.rfind(b"\n", 0, idx)) >= 0:
            found += 1
            if found > lines:
                return start + idx + 1
        pos = start
    if pos > 0:  # gave up reading back: start at the next line boundary, not mid-line
        nl = os.pread(fd, 65536, pos).find(b"\n")
        return pos + nl + 1 if nl >= 0 else size
    return 0


class FileFollower:
    def __init__(self, name: str, path: Path, hub: Hub, *, max_line_bytes: int, seed_lines: int,
                 from_start: bool, flush_window: float = 0.0, missing_grace: float = 0.5) -> None:
        self.name = name
        self.path = path
        self.hub = hub
        self.seed_lines = seed_lines
        self.from_start = from_start  # False only for files present at startup: those start at the tail
        self.flush_window = flush_window
        # How long a vanished path may stay away and still count as a rotation (rename, then create).
        self.missing_grace = missing_grace
        self.vanished_at: float | None = None
        self.splitter = LineSplitter(max_line_bytes)
        self.gen: Generation | None = None
        self.old: Generation | None = None  # a rotated-away file still being drained
        # The last files rotated away, oldest first, with the size read from each: how a reader that lost
        # its place knows whether `NAME.1` comes after it (resume.py).
        self.rotated: deque[tuple[Generation, int]] = deque(maxlen=ROTATED_KEPT)
        self.state = "new"  # new | ok | missing | unreadable
        self.wakeup = asyncio.Event()
        self.last_read = 0.0
        self.size = 0

    # --- notifications -------------------------------------------------------------------------------

    def wake(self) -> None:
        self.wakeup.set()

    async def run(self) -> None:
        """Step whenever woken; failures are reported once and retried with backoff, never propagated.

        The position is kept across failures, so a transient error (EIO, a directory briefly in the file's
        place) neither repeats nor loses lines.
        """
        backoff = 0.1
        failing = False
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            await self._respect_flush_window()
            try:
                more = self.step()
            except Exception as exc:
                log.warning("%s: %s", self.name, exc, exc_info=not isinstance(exc, OSError))
                if not failing:
                    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                    self.hub.notice(self.name, "unreadable", f"error reading {self.path}: {reason}; retrying")
                    failing = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                self.wakeup.set()
                continue
            backoff, failing = 0.1, False
            if more:
                self.wakeup.set()
                await asyncio.sleep(0)  # let clients and other followers run between bounded reads

    async def _respect_flush_window(self) -> None:
        # Under heavy fan-out, reading at most once per window turns many small writes into one batch per
        # client (one socket send per batch instead of per line). With few clients the window is ~0.
        window = self.flush_window * len(self.hub.channel(self.name).subscribers)
        if window > 0:
            delay = self.last_read + min(window, 0.02) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        self.last_read = time.monotonic()

    # --- one step ------------------------------------------------------------------------------------

    def step(self) -> bool:
        """Bring the follower up to date with the file; True when there is more to read right away."""
        if self.old is not None:
            if self._read(self.old, STEP_BYTES):
                return True
            self._finish_old("rotated", f"{self.path} was rotated; following the new file")
            return True
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if self.gen is not None and self._within_grace():
                # Renamed away, and the new file is usually created a moment later: keep draining the old
                # one (the app may still be writing to it) and call it a rotation if the name comes back.
                return self._read(self.gen, STEP_BYTES)
            self._on_missing()
            return False
        except PermissionError as exc:
            if self.gen is None:
                self._on_unreadable(exc)
                return False
            # The path is out of reach (its directory's permissions) but the open file is not: report it and
            # keep reading, so that nothing is read twice (or lost) when the path is back.
            self._report_unreadable()
            return self._read(self.gen, STEP_BYTES)
        if self.gen is None:
            return self._open(st)
        self.vanished_at = None
        if self.state == "unreadable":
            self.state = "ok"
            self.hub.notice(self.name, "appeared", f"{self.path} is readable again; continuing where it was")
        if (st.st_dev, st.st_ino) != (self.gen.dev, self.gen.ino):
            self.old, self.gen = self.gen, None
            return True
        if os.fstat(self.gen.fd).st_size < self.splitter.offset or self.gen.head_changed():
            self.gen.close()
            self.gen = None
            self.splitter.reset()
            self.hub.notice(self.name, "truncated", f"{self.path} was truncated; reading from the start")
            return True
        return self._read(self.gen, STEP_BYTES)

    def _open(self, st: os.stat_result) -> bool:
        try:
            gen = open_generation(self.path)
        except PermissionError as exc:
            self._on_unreadable(exc)
            return False
        previous = self.state
        self.gen, self.state = gen, "ok"
        self.splitter.reset()
        if previous == "new" and not self.from_start:
            self.splitter.reset(seed_offset(gen.fd, os.fstat(gen.fd).st_size, self.seed_lines))
        elif previous in ("missing", "unreadable"):
            self.hub.notice(self.name, "appeared", f"{self.path} is readable; following from the start")
        self._publish([], gen)
        return True

    def _read(self, gen: Generation, budget: int) -> bool:
        """Read up to `budget` bytes from `gen`; True when the file has more."""
        while budget > 0:
            data = os.pread(gen.fd, min(READ_BYTES, budget), self.splitter.offset)
            if not data:
                return False
            budget -= len(data)
            raws = self.splitter.feed(data)
            gen.refresh_head()
            self.size = self.splitter.offset
            self._publish([Line(self.name, r.text, gen.fid(r.end), r.end, r.truncated) for r in raws], gen)
        return True

    def _publish(self, lines: list[Line], gen: Generation) -> None:
        at = self.splitter.line_start
        self.hub.publish(self.name, lines, Cursor(self.name, gen.fid(at), at))

    def _flush_partial(self, gen: Generation) -> None:
        # A last line without a newline in a file that will not grow again is delivered as it is.
        if self.splitter.pending_bytes:
            end = self.splitter.offset
            raws = self.splitter.feed(b"\n")
            self.splitter.reset(end)
            self._publish([Line(self.name, r.text, gen.fid(end), end, r.truncated) for r in raws], gen)

    def _within_grace(self) -> bool:
        now = time.monotonic()
        if self.vanished_at is None:
            self.vanished_at = now
        return now - self.vanished_at < self.missing_grace

    def _finish_old(self, kind: str, message: str) -> None:
        assert self.old is not None
        self._flush_partial(self.old)
        self.old.close()
        self.rotated.append((self.old, self.splitter.offset))
        self.old = None
        self.splitter.reset()
        self.state = "reopen"
        self.hub.notice(self.name, kind, message)

    def _on_missing(self) -> None:
        self.vanished_at = None
        if self.gen is not None:
            self._read(self.gen, SEED_MAX_BYTES)
            self._flush_partial(self.gen)
            self.gen.close()
            self.gen = None
        if self.state != "missing":
            if self.state != "new":
                self.hub.notice(self.name, "missing", f"{self.path} does not exist (waiting for it)")
            self.state = "missing"
        self.size = 0

    def _on_unreadable(self, exc: PermissionError) -> None:
        self._close_all()
        self._report_unreadable()

    def _report_unreadable(self) -> None:
        if self.state != "unreadable":
            self.hub.notice(self.name, "unreadable", f"cannot read {self.path}: permission denied")
            self.state = "unreadable"

    def _close_all(self) -> None:
        for gen in (self.gen, self.old):
            if gen is not None:
                gen.close()
        self.gen = self.old = None

    def close(self) -> None:
        self._close_all()

    # --- resume support ------------------------------------------------------------------------------

    def dup_current(self) -> tuple[int, Generation] | None:
        """A duplicate descriptor of the current file (for reading back history off the loop)."""
        if self.gen is None:
            return None
        return os.dup(self.gen.fd), self.gen
