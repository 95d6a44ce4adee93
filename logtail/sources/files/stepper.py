"""When a follower reads: woken by the watcher or the rescan, paced while its log is busy, backed off after a
failure, and held by the shipper until what it published is stored.

`Stepper` runs a follower's `step()` (what to read: follow.py) at those moments, on the event loop. A follower
parked with its read due steps right inside the watcher's callback; otherwise its own task does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from logtail.core.sink import Sink
from logtail.sources.files.pacing import Pace

log = logging.getLogger(__name__)


class Stepper:
    """The schedule of one follower's steps; subclasses say what a step does (`step`)."""

    def __init__(self, name: str, path: Path, sink: Sink, flush_window: float) -> None:
        self.name = name
        self.path = path
        self.sink = sink
        self.lines_published = 0  # counted by the subclass's step, for the pace
        self.pace = Pace(flush_window)  # when a busy log is read next (pacing.py)
        self.wakeup = asyncio.Event()
        self.parked = False  # the task waits for `wakeup` with nothing else due: `wake` may step at once
        self.more = False  # the last step stopped at its byte budget: read on without waiting
        self.failing = False  # the last step failed (reported once)
        self.backoff = 0.1  # seconds before retrying a failed step, doubled up to 10 s
        self.wake_at: float | None = None  # monotonic time to step again unprompted (a drained file's deadline)
        # The Redis shipper's hook, awaited before each step: the next read waits until what the last one
        # published is stored (the file is the buffer).
        self.gate: Callable[[], Awaitable[None]] | None = None

    def step(self) -> bool:
        """Read what is new; True when there is more to read right away."""
        raise NotImplementedError

    def wake(self) -> None:
        """Something changed. A follower parked with its read due steps right here, in the watcher's
        callback: no task wake-up, a good part of what a read of a busy log costs. Otherwise its task does."""
        if self.parked and self.gate is None and self.wake_at is None and not self.pace.delay(time.monotonic()):
            self.parked = False  # a wake-up from within this step goes to the task
            if not self._step_once() or self.more or self.wake_at is not None:
                # the task reads on in bounded steps, retries (then backs off), or waits for a deadline
                self.wakeup.set()
            elif not self.wakeup.is_set():
                self.parked = True
            return
        self.wakeup.set()

    async def run(self) -> None:
        """Step whenever woken; failures are reported once and retried with backoff, never propagated.

        The position is kept across failures, so a transient error (EIO, a directory briefly in the file's
        place) neither repeats nor loses lines.
        """
        while True:
            await self._wait()
            if self.failing:  # the last step failed (here or in `wake`): back off before trying again
                await asyncio.sleep(self.backoff)
                self.backoff = min(self.backoff * 2, 10.0)
            elif not self.more:  # a file read in bounded steps is read on without waiting
                await self._keep_pace()
            if self.gate is not None:
                await self.gate()
            # Cleared only now: the step reads whatever a wake-up during those waits was about (the watcher's
            # own read, due at the same moment as the pace, would otherwise cost a second step), and nothing
            # can wake the follower during the step but the step itself.
            self.wakeup.clear()
            if not self._step_once():
                self.wakeup.set()  # to retry, after the backoff
            elif self.more:
                self.wakeup.set()
                await asyncio.sleep(0)  # let clients and other followers run between bounded reads

    def _step_once(self) -> bool:
        """One step, and the pace it sets; False when it failed (reported once until a step succeeds)."""
        before = self.lines_published
        # The pace counts from the start of the read: a fan-out to a thousand clients takes a good part of the
        # interval, which would otherwise be added to it.
        started = time.monotonic()
        try:
            self.more = self.step()
        except Exception as exc:
            log.warning("%s: %s", self.name, exc, exc_info=not isinstance(exc, OSError))
            if not self.failing:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                self.sink.notice(self.name, "unreadable", f"error reading {self.path}: {reason}; retrying")
                self.failing = True
            self.more = False
            return False
        self.backoff, self.failing = 0.1, False
        if self.lines_published > before:
            self.pace.read(started, self.lines_published - before, self.sink.readers(self.name))
        return True

    async def _wait(self) -> None:
        if self.wake_at is None:
            self.parked = not self.wakeup.is_set()
            try:
                await self.wakeup.wait()
            finally:
                self.parked = False
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, self.wake_at - time.monotonic())):
                await self.wakeup.wait()

    async def _keep_pace(self) -> None:
        # Woken before the log's next read is due (the rescan, another watcher backend, a change let through
        # for another log): wait for it, so that the lines in between go out together.
        delay = self.pace.delay(time.monotonic())
        if delay:
            await asyncio.sleep(delay)
