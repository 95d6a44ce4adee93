"""When a busy log is read next: the one rule that turns many small writes into a few reads.

A read costs about the same whatever the number of lines it carries: a wake-up of the process, a few system
calls, and one socket send per subscriber. On a small VM the wake-up and each loopback send cost tens of
microseconds in the kernel, so a log written 100 times a second to 10 viewers, read line by line, takes
several percent of a core however lean the Python is (bench/RESULTS.md, round 3, has the measurements). Lines that
arrive close together are therefore read together, within a latency budget:

- a line that arrives after a quiet spell (nothing read for longer than the current interval) is read at
  once, so a lone line still goes out in well under a millisecond;
- while the log keeps being written, the next read waits for the time its recent rate takes to write
  `LINES_PER_READ` lines, and at least the fan-out window (`per_subscriber` times the subscribers, so that a
  thousand clients share a batch), never less than `MIN_INTERVAL`;
- and never so long that the wait and the fan-out of the batch it gathers (the same estimate) exceed
  `LATENCY_BUDGET`: a few viewers get nearly all of the budget, a thousand get what their sends leave. Only
  when the fan-out alone takes more than half the budget does it set the interval (reading more often
  would not bring the lines sooner, only more fan-outs), and never beyond the budget.

The watcher keeps the change descriptor set aside until then (watch.py), so the writes in between cost no
wake-up at all; the follower waits for the same moment when something else woke it (stepper.py).
"""

from __future__ import annotations

MIN_INTERVAL = 0.005  # the shortest wait between reads of a busy log
# The longest a line waits for its read plus the fan-out of its batch while its log is busy: below what a
# person watching notices. At 1,000 clients (a 25 ms fan-out window) reads are 60 ms apart, which leaves the
# 100 ms p99 allowed there room for the clients' own delays; 10 viewers of a log written 100 times a second
# get reads 80 ms apart (its 8 lines), 0.7 % of a core where 60 ms cost 1.1 % (bench/RESULTS.md, round 4).
LATENCY_BUDGET = 0.085
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
        fan_out = subscribers * self.per_subscriber  # the fan-out window, and what the batch's sends take
        longest = min(LATENCY_BUDGET, max(LATENCY_BUDGET - fan_out, fan_out))
        self.interval = min(longest, max(MIN_INTERVAL, gather, fan_out))
        self.last_read = now
