"""Follow one file by name, like `tail -F`: rotation, truncation, deletion and re-creation.

A `FileFollower` is woken by the watcher (a change in the file's directory) or by the periodic rescan, and
each `step()` reads at most `step_bytes` with `os.pread` (page-cache reads of bounded size are cheap enough to
stay on the event loop; a thread hop per read would cost more than the read). One follower per file feeds
the hub whatever the number of clients.

Files are read one after the other, never interleaved: a renamed file's late lines all come before the first
line of the file that took its name. An id names one file and an offset in it, so this order is what keeps
ids exact: what follows a line is the rest of its file, then the next files from 0 (resume.py reads back
the same way).

The policy, in order of checks:
- the path names another file (rename rotation): open the new file and queue it, and keep draining the old
  one, which the writer may still append to until it reopens its log; release the old file when it has
  been quiet for `rotate_wait` seconds or is deleted, notice `rotated`, follow the queued file from 0;
- the path is gone (for longer than `missing_grace`): drain the open file the same way; when it is released
  and no file has taken the name, notice `missing` and wait for it to come back (`appeared`, read from 0);
- the open file is shorter than our offset, or its first bytes changed (copytruncate, rewrite): notice
  `truncated`, continue from 0;
- the file cannot be opened (permissions): notice `unreadable` once, retry on every wake-up.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from logtail.core.block import LineBlock
from logtail.core.cursor import Cursor
from logtail.core.events import Rule
from logtail.core.frames import Line
from logtail.core.lines import LineSplitter
from logtail.core.sink import Sink
from logtail.match.parsers import Parser
from logtail.sources.files.generation import Generation, open_generation, seed_offset
from logtail.sources.files.multiline import EventStage
from logtail.sources.files.stepper import Stepper

log = logging.getLogger(__name__)

READ_BYTES = 256 * 1024
# Bytes read (and fanned out) per step before the loop runs others: with hundreds of filter groups a step's
# fan-out is the longest the event loop is held.
STEP_BYTES = 256 * 1024
# Files that took the name while an older one is still drained, waiting their turn. Beyond this (a name
# rotated many times within `rotate_wait` while every old file is still written), newer ones are not queued.
MAX_QUEUED = 16
ROTATED_KEPT = 4  # files let go that are remembered, for a reader that lost its place (resume.py)

# What a follower last knew of its path: `new` (never looked), `ok` (following a file), `missing` (no file by
# that name), `unreadable` (permission denied), `reopen` (a rotated file was let go and the next one is not
# open yet). The notices sent are the changes between states, so each is reported once.
FollowerState = Literal["new", "ok", "missing", "unreadable", "reopen"]


class FileFollower(Stepper):
    def __init__(self, name: str, path: Path, sink: Sink, *, max_line_bytes: int, seed_lines: int,
                 from_start: bool, flush_window: float = 0.0, missing_grace: float = 0.5,
                 rotate_wait: float = 5.0,
                 on_draining: Callable[[FileFollower, bool], None] | None = None,
                 parser: Parser | None = None, multiline: Rule | None = None,
                 multiline_wait: float = 1.0, inside: Path | None = None) -> None:
        super().__init__(name, path, sink, flush_window)
        # A glob match's directory: the file the name links to must stay in it, at every open by every
        # reader (opening.py); None for a configured path, followed wherever it points.
        self.inside = inside
        self.parser = parser  # the log's `parse`: its lines carry it (None: auto)
        # The log's `multiline`: lines are joined into events (multiline.py) before they are published, and
        # the published position stays at the start of the event still being written.
        self.multiline = multiline
        self.events = EventStage(multiline, multiline_wait, self.wake) if multiline is not None else None
        self.seed_lines = seed_lines
        self.from_start = from_start  # False only for files present at startup: those start at the tail
        # How long a vanished path may stay away and still count as a rotation (rename, then create).
        self.missing_grace = missing_grace
        self.vanished_at: float | None = None
        # How long a renamed file must stay quiet before it is let go (Fluent Bit's `rotate_wait`).
        self.rotate_wait = rotate_wait
        # Told when this follower starts or stops draining a renamed file, whose writes the watcher reports
        # under a name no follower has (see FileTable.on_change).
        self.on_draining = on_draining
        self.splitter = LineSplitter(max_line_bytes)
        self.gen: Generation | None = None  # the file being read
        self.queue: deque[Generation] = deque()  # files that took the name after `gen`, oldest first, unread
        # The last files let go, oldest first, with the size read from each: how a reader that lost its
        # place knows whether `NAME.1` comes after it (resume.py).
        self.rotated: deque[tuple[Generation, int]] = deque(maxlen=ROTATED_KEPT)
        self.state: FollowerState = "new"
        # Where to start in the first file: set by the Redis shipper (what it stored last), else the tail.
        self.resume_at: int | None = None

    @property
    def draining(self) -> bool:
        return self.gen is not None and self.gen.detached_at is not None

    # --- one step ------------------------------------------------------------------------------------

    def step(self) -> bool:
        """Bring the follower up to date with the file; True when there is more to read right away."""
        if self.gen is not None and self.gen.detached_at is not None:  # see `draining`
            return self._drain(self.gen)
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if self.gen is not None and self._within_grace():
                # Renamed away, and the new file is usually created a moment later: keep reading the old
                # one and call it a rotation if the name comes back.
                return self._read(self.gen, STEP_BYTES)
            self._on_missing()
            return self.gen is not None
        except PermissionError:
            if self.gen is None:
                self._on_unreadable()
                return False
            # The path is out of reach (its directory's permissions) but the open file is not: report it and
            # keep reading, so that nothing is read twice (or lost) when the path is back.
            self._report_unreadable()
            return self._read(self.gen, STEP_BYTES)
        if self.gen is None:
            return self._open()
        self.vanished_at = None
        if self.state == "unreadable":
            self.state = "ok"
            self.sink.notice(self.name, "appeared", f"{self.path} is readable again; continuing where it was")
        if (st.st_dev, st.st_ino) != (self.gen.dev, self.gen.ino):
            self._detach(self.gen)
            self._take_name(self.gen, st)
            return True
        # The path names the open file, so `st` is its size: no fstat needed.
        if st.st_size < self.splitter.offset or self.gen.head_changed():
            self._end_event(self.gen)  # truncation ends an event
            self.gen.close()
            self.gen = None
            self.splitter.reset()
            self.sink.notice(self.name, "truncated", f"{self.path} was truncated; reading from the start")
            return True
        if st.st_size == self.splitter.offset:
            self._end_event_if_quiet(self.gen)
            return False  # a wake-up for a change that was read already (or a metadata change)
        return self._read(self.gen, STEP_BYTES)

    def _open(self) -> bool:
        try:
            gen = open_generation(self.path, self.inside)
        except PermissionError:
            self._on_unreadable()
            return False
        previous = self.state
        self.gen, self.state = gen, "ok"
        self.splitter.reset()
        if previous == "new" and self.resume_at is not None:
            self.splitter.reset(min(self.resume_at, os.fstat(gen.fd).st_size))
        elif previous == "new" and not self.from_start:
            self.splitter.reset(seed_offset(gen.fd, os.fstat(gen.fd).st_size, self.seed_lines))
        elif previous in ("missing", "unreadable"):
            self.sink.notice(self.name, "appeared", f"{self.path} is readable; following from the start")
        self._publish([], gen)
        return True

    def _read(self, gen: Generation, budget: int) -> bool:
        """Read up to `budget` bytes from `gen`; True when the file has more."""
        while budget > 0:
            asked = min(READ_BYTES, budget)
            data = os.pread(gen.fd, asked, self.splitter.offset)
            if not data:
                self._end_event_if_quiet(gen)
                return False
            budget -= len(data)
            self._publish(self._split(data, gen), gen)
            if len(data) < asked:
                # At the end of the file: no second read to find that out. What is appended after the read
                # raises a change event of its own, which wakes this follower again.
                return False
        return True

    def _split(self, data: bytes, gen: Generation) -> list[Line] | LineBlock:
        # The lines as one block of bytes when they need no decoding work and share one file id (past the
        # file's first HEAD_BYTES): what text clients are sent as it is (block.py). Otherwise line by line.
        if self.events is not None:
            start = self.splitter.line_start  # where the next event begins if none is pending
            raws = self.events.feed(self.splitter.feed(data), start)
            gen.refresh_head()
            return [Line(self.name, e.text, gen.fid(e.end), e.end, e.truncated, self.parser) for e in raws]
        fid = gen.fixed_fid(self.splitter.line_start)
        if fid is not None and (clean := self.splitter.feed_clean(data)) is not None:
            return LineBlock.of_bytes(self.name, fid, *clean, self.parser)
        raws = self.splitter.feed(data)
        gen.refresh_head()
        return [Line(self.name, r.text, gen.fid(r.end), r.end, r.truncated, self.parser) for r in raws]

    def _publish(self, lines: list[Line] | LineBlock, gen: Generation) -> None:
        at = self.splitter.line_start
        if self.events is not None and self.events.start is not None:
            at = self.events.start  # the event being written is not published yet: resume before it
        self.lines_published += lines.count if isinstance(lines, LineBlock) else len(lines)
        self.sink.publish(self.name, lines, Cursor(self.name, gen.fid(at), at))

    def _flush_partial(self, gen: Generation) -> None:
        # A last line without a newline in a file that will not grow again is delivered as it is.
        if self.splitter.pending_bytes:
            end = self.splitter.offset
            start = self.splitter.line_start
            raws = [r._replace(end=end) for r in self.splitter.feed(b"\n")]  # no newline in the file
            self.splitter.reset(end)
            if self.events is not None:
                raws = self.events.feed(raws, start)
            self._publish([Line(self.name, r.text, gen.fid(r.end), r.end, r.truncated, self.parser) for r in raws],
                          gen)
        self._end_event(gen)  # the file will not grow: its last event is complete

    # --- multi-line events (core/events.py) -------------------------------------------------------------

    def _end_event_if_quiet(self, gen: Generation) -> None:
        if self.events is not None and self.events.quiet():
            self._end_event(gen)

    def _end_event(self, gen: Generation) -> None:
        """Publish the event being written as it is (its writer went quiet, or its file ends here)."""
        events = self.events.flush() if self.events is not None else []
        if not events:
            return
        self._publish([Line(self.name, e.text, gen.fid(e.end), e.end, e.truncated, self.parser) for e in events],
                      gen)

    def _within_grace(self) -> bool:
        now = time.monotonic()
        if self.vanished_at is None:
            self.vanished_at = now
        return now - self.vanished_at < self.missing_grace

    # --- draining a file the name no longer points to ----------------------------------------------------

    def _detach(self, gen: Generation) -> None:
        gen.detached_at = gen.grew_at = time.monotonic()
        self.vanished_at = None
        if self.on_draining is not None:
            self.on_draining(self, True)

    def _drain(self, gen: Generation) -> bool:
        """One step on a detached file: read what was appended, queue a file that took the name, and let
        the old file go when its time is up."""
        before = self.splitter.offset
        more = self._read(gen, STEP_BYTES)
        if self.splitter.offset != before:
            gen.grew_at = time.monotonic()
        if more:
            return True
        self._look_at_name(gen)
        if gen.detached_at is None or not self._released(gen):
            return False
        self._release(gen)
        return True

    def _look_at_name(self, gen: Generation) -> None:
        try:
            st = os.stat(self.path)
        except OSError:
            return  # gone or out of reach for now: nothing to queue, the old file is drained all the same
        self._take_name(gen, st)

    def _take_name(self, gen: Generation, st: os.stat_result) -> None:
        """Queue the file the name points to (`st`) unless it is already the newest one we have."""
        newest = self.queue[-1] if self.queue else gen
        if (st.st_dev, st.st_ino) == (newest.dev, newest.ino):
            if newest is gen:
                gen.detached_at = None  # renamed back: an ordinary follow again
                self._stop_draining()
            return
        self._enqueue(st)

    def _enqueue(self, st: os.stat_result) -> None:
        if len(self.queue) >= MAX_QUEUED:
            log.warning("%s: %d files rotated in while an old one is still written; not queuing more",
                        self.name, len(self.queue))
            return
        try:
            gen = open_generation(self.path, self.inside)
        except OSError as exc:  # gone again, or unreadable: the next step looks at the name again
            log.debug("%s: cannot open the new %s yet: %s", self.name, self.path, exc)
            return
        if (gen.dev, gen.ino) != (st.st_dev, st.st_ino):
            log.debug("%s: %s changed again while being opened", self.name, self.path)
        self.queue.append(gen)

    def _released(self, gen: Generation) -> bool:
        """Whether a detached file, read to its end, can be let go: deleted, or quiet for `rotate_wait`.

        Quiet means not written for that long by its mtime, or not seen growing for that long (which bounds
        the wait when the wall clock jumps). Otherwise the follower is set to look again at the deadline.
        """
        st = os.fstat(gen.fd)
        if st.st_size > self.splitter.offset:
            self.wake()  # appended since the read
            return False
        if st.st_nlink == 0:
            return True
        seen = self.rotate_wait - (time.monotonic() - gen.grew_at)
        written = self.rotate_wait - (time.time() - st.st_mtime)
        left = min(seen, written)
        if left <= 0:
            return True
        self.wake_at = time.monotonic() + left
        return False

    def _release(self, gen: Generation) -> None:
        """Let the drained file go and move on to the next one that had the name, from its first byte."""
        self._flush_partial(gen)
        gen.close()
        self.rotated.append((gen, self.splitter.offset))
        self.splitter.reset()
        self._stop_draining()
        self.gen = self.queue.popleft() if self.queue else None
        if self.gen is None:
            if not self._name_exists():
                self._on_missing()
                return
            self.state = "reopen"  # a new file we could not open yet: the next step opens it, or says why
        self.sink.notice(self.name, "rotated", f"{self.path} was rotated; following the new file")
        if self.gen is not None:
            self._publish([], self.gen)
            if self.queue:  # renamed away too, before its turn came
                self._detach(self.gen)

    def _name_exists(self) -> bool:
        try:
            os.stat(self.path)
        except FileNotFoundError:
            return False
        except OSError:
            return True  # out of reach (permissions) is not gone
        return True

    def _stop_draining(self) -> None:
        self.wake_at = None
        if self.on_draining is not None:
            self.on_draining(self, False)

    # --- the name is gone or out of reach --------------------------------------------------------------

    def _on_missing(self) -> None:
        self.vanished_at = None
        if self.gen is not None:
            self._detach(self.gen)  # drained like a renamed file; `missing` when it is released
            return
        if self.state != "missing":
            if self.state != "new":
                self.sink.notice(self.name, "missing", f"{self.path} does not exist (waiting for it)")
            self.state = "missing"

    def _on_unreadable(self) -> None:
        self._close_all()
        self._report_unreadable()

    def _report_unreadable(self) -> None:
        if self.state != "unreadable":
            self.sink.notice(self.name, "unreadable", f"cannot read {self.path}: permission denied")
            self.state = "unreadable"

    def _close_all(self) -> None:
        if self.gen is not None:
            self._end_event(self.gen)
        if self.draining:
            self._stop_draining()
        for gen in (self.gen, *self.queue):
            if gen is not None:
                gen.close()
        self.gen = None
        self.queue.clear()

    def close(self) -> None:
        if self.events is not None:
            self.events.close()
        self._close_all()

    # --- resume support ------------------------------------------------------------------------------

    def dup_current(self) -> tuple[int, Generation] | None:
        """A duplicate descriptor of the current file (for reading back history off the loop)."""
        if self.gen is None:
            return None
        return os.dup(self.gen.fd), self.gen
