"""A follower's multi-line stage: its lines joined into events (core/events.py), and the clock that sends
the event still being written once its writer has been quiet for `multiline_wait`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from logtail.core.events import EventJoiner, Rule
from logtail.core.lines import RawLine


class EventStage:
    def __init__(self, rule: Rule, wait: float, wake: Callable[[], None]) -> None:
        self.joiner = EventJoiner(rule)
        self.wait = wait
        self.wake = wake  # the follower's: its next step sends the event if it is still quiet
        self.grew_at = 0.0  # when the pending event last grew
        self.timer: asyncio.TimerHandle | None = None

    @property
    def start(self) -> int | None:
        """Where the event being written began (what the follower publishes as its position), or None."""
        return self.joiner.start

    def feed(self, raws: list[RawLine], line_start: int) -> list[RawLine]:
        """The events `raws` complete; `line_start`: where the splitter was before them (after any reset)."""
        if not self.joiner.pending:
            self.joiner.reset(line_start)
        events = self.joiner.feed(raws)
        if raws and self.joiner.pending:
            self.grew_at = time.monotonic()
            if self.timer is not None:
                self.timer.cancel()
            self.timer = asyncio.get_running_loop().call_later(self.wait + 0.005, self.wake)
        return events

    def quiet(self) -> bool:
        return self.joiner.pending and time.monotonic() - self.grew_at >= self.wait

    def flush(self) -> list[RawLine]:
        return self.joiner.flush()

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
