"""When a busy log is read next: the one rule that turns many small writes into a few reads.

A read costs about the same whatever the number of lines it carries: a wake-up of the process, a few system
calls, and one socket send per subscriber. On a small VM the wake-up and each loopback send cost tens of
microseconds in the kernel, so a log written 100 times a second to 10 viewers, read line by line, takes
several percent of a core however lean the Python is (README, Performance, has the measurements). Lines that
arrive close together are therefore read together, within a latency budget:

- a line that arrives after a quiet spell (nothing read for longer than the current interval) is read at
  once, so a lone line still goes out in well under a millisecond;
- while the log keeps being written, the next read waits for the time its recent rate takes to write
  `LINES_PER_READ` lines, and at least the fan-out window (`per_subscriber` times the subscribers, so that a
  thousand clients share a batch), never less than `MIN_INTERVAL` nor more than `LATENCY_BUDGET`.

The watcher keeps the change descriptor set aside until then (watch.py), so the writes in between cost no
wake-up at all; the follower waits for the same moment when something else woke it (follow.py).
"""

from __future__ import annotations

MIN_INTERVAL = 0.005  # the shortest wait between reads of a busy log
# The longest a line waits for its read while its log is busy: below what a person watching notices, and
# leaving 40 ms of the 100 ms p99 allowed at 1,000 clients for the sends of a batch and the clients' own
# delays. Measured (README, Performance): at 100 lines/s and 1,000 clients, 50 ms batches cost 2.9 CPU-s per
# million deliveries, 60 ms ones 2.1.
LATENCY_BUDGET = 0.06
LINES_PER_READ = 8  # what a read should carry when the log's rate allows it within the budget
# A read due this soon is done now: the loop's timers fire up to a millisecond early (libuv counts in whole
# milliseconds), and another wake-up to wait for the rest would cost more than it saves.
CLOCK_SLACK = 0.001


class Pace:
    """One log's reading pace: when it was last read and how long it waits before the next read."""

    __slots__ = ("interval", "last_read", "per_subscriber")

    def __init__(self, per_subscriber: float) -> None:
        self.per_subscriber = per_subscriber
        self.interval = MIN_INTERVAL
        self.last_read = float("-inf")

    @property
    def next_read(self) -> float:
        return self.last_read + self.interval

    def delay(self, now: float) -> float:
        """How long a read at `now` should wait for its turn (0: read now)."""
        delay = self.next_read - now
        return delay if delay > CLOCK_SLACK else 0.0

    def read(self, now: float, lines: int, subscribers: int) -> None:
        """A read at `now` brought `lines` (> 0) lines to a log with `subscribers`: set the next interval."""
        gather = LINES_PER_READ * (now - self.last_read) / lines  # the time the recent rate takes
        self.interval = min(LATENCY_BUDGET, max(MIN_INTERVAL, gather, subscribers * self.per_subscriber))
        self.last_read = now
