"""Counting one watch's matches: the total, per-minute buckets for a day, the threshold within a sliding
window, and the cooldown. Pure: the caller passes the time, so every rule is table-testable.

Rules (docs/watches.md):
- An alert fires when `threshold` matches fall within `window` seconds. Its matches are then spent: the
  next alert needs `threshold` new ones (so `threshold = 1, cooldown = "0s"` alerts on every match, one
  alert per published batch of lines).
- After an alert, no other alert fires for `cooldown` seconds. A crossing meanwhile is not lost: when the
  cooldown ends, one alert reports everything that matched during it. Matches that never crossed the
  threshold are summed into the next alert's `count` (the count is always "matches since the last alert").
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from logtail.core.frames import Line
from logtail.watches.spec import WatchSpec

State = Literal["ok", "firing", "cooldown"]
# A match's time counts to within this share of the window, rounded later (so it may count up to that much
# longer, never shorter): the unspent matches are then at most this many entries, whatever the threshold,
# and the state file saved every second stays small. Its arrival time is itself later than its line's write.
STEPS = 1000
MINUTES = 1440  # per-minute buckets kept: one day
SAMPLE = 5  # lines an alert carries (the last ones that matched)
Sampled = Line | dict[str, Any]  # a matched line, or its record (from the state file)


@dataclass
class Alert:
    id: str  # unique per watch and alert, stable across restarts: receivers may deduplicate on it
    watch: str
    at: float
    count: int  # matches since the previous alert
    threshold: int
    window: float
    lines: list[dict[str, Any]]  # the last SAMPLE matched lines: log, text, id, level
    note: str = ""  # e.g. lines that could not be evaluated (rotated away while the server was down)
    test: bool = False

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Alert:
        return cls(**data)


class Run(NamedTuple):
    """`n` matched lines that arrived together at `at`; `records(k)` gives the last k of them (k <= n)."""
    at: float
    n: int
    records: Callable[[int], list[Sampled]]


@dataclass
class WatchCounter:
    spec: WatchSpec
    total: int = 0
    seq: int = 0  # alerts fired so far (persisted: part of each alert's id)
    # The unspent matches, at most `threshold`, as (time, how many then), a time per window / STEPS: at most
    # STEPS + 1 entries even for a threshold of a million.
    recent: deque[tuple[float, int]] = field(default_factory=deque)
    unspent: int = 0  # the sum of `recent`'s counts
    pending: int = 0  # matches since the last alert
    # The last matched lines, as lines until an alert or the state file needs them as records (most never do).
    sample: deque[Sampled] = field(default_factory=lambda: deque(maxlen=SAMPLE))
    cooldown_until: float = 0.0
    suppressed: bool = False  # the threshold was crossed during the cooldown
    last_alert: float | None = None
    notes: list[str] = field(default_factory=list)
    buckets: deque[list[int]] = field(default_factory=deque)  # [minute since the epoch, matches]
    # The saved text of the buckets before the last (`_buckets_text`), and which buckets it was made from.
    _closed: tuple[tuple[int, int], str] = field(default=((0, 0), ""), repr=False, compare=False)

    def add(self, now: float, n: int, records: list[Sampled]) -> Alert | None:
        """Count `n` matched lines at `now`, the last of which are `records` (lines or their records); the
        alert they complete, if any."""
        alerts = self.add_runs([Run(now, n, lambda k: records[-k:])])
        return alerts[0][1] if alerts else None

    def add_runs(self, runs: Sequence[Run]) -> list[tuple[int, Alert]]:
        """Count runs of matched lines in the order they arrived, as `add` for each in turn; the alerts they
        complete, each with the number of the run that completed it. Records are asked for only as many as
        an alert or the sample keeps."""
        alerts: list[tuple[int, Alert]] = []
        sampled = 0  # runs[:sampled] are in the sample
        for i, (now, n, _) in enumerate(runs):
            if not n or not self._count(now, n):
                continue
            if now < self.cooldown_until:
                self.suppressed = True
                continue
            self._sample(runs[sampled:i + 1])
            sampled = i + 1
            alerts.append((i, self._fire(now)))
        self._sample(runs[sampled:])
        return alerts

    def _count(self, now: float, n: int) -> bool:
        """Count `n` matches at `now`; whether `threshold` unspent ones are now within the window (then spent:
        the next alert needs `threshold` new matches)."""
        self.total += n
        self.pending += n
        self._bucket(now, n)
        self._keep(now, n)
        recent = self.recent
        while recent and now - recent[0][0] > self.spec.window:
            self.unspent -= recent.popleft()[1]
        if self.unspent < self.spec.threshold:
            return False
        recent.clear()
        self.unspent = 0
        return True

    def _keep(self, at: float, n: int) -> None:
        """`n` unspent matches at `at`; of all, the last `threshold` only are kept (older ones cannot count)."""
        threshold, recent = self.spec.threshold, self.recent
        kept = min(n, threshold)
        step = self.spec.window / STEPS
        at = math.ceil(at / step) * step
        if recent and recent[-1][0] == at:
            recent[-1] = (at, recent[-1][1] + kept)
        else:
            recent.append((at, kept))
        self.unspent += kept
        while self.unspent > threshold:
            first, count = recent[0]
            excess = self.unspent - threshold
            if count > excess:
                recent[0] = (first, count - excess)
                self.unspent = threshold
            else:
                recent.popleft()
                self.unspent -= count

    def _sample(self, runs: Sequence[Run]) -> None:
        """The last SAMPLE matched lines of `runs` into the sample (what `add` would keep of them)."""
        picked: list[Sampled] = []
        for run in reversed(runs):
            if len(picked) >= SAMPLE:
                break
            if run.n:
                picked[:0] = run.records(min(run.n, SAMPLE - len(picked)))
        self.sample.extend(picked)

    def tick(self, now: float) -> Alert | None:
        """The alert a crossing during a cooldown that has now ended owes."""
        if self.suppressed and now >= self.cooldown_until:
            return self._fire(now)
        return None

    def note(self, message: str) -> None:
        """Something the next alert must say (it is sent with it)."""
        self.notes.append(message)

    def state(self, now: float) -> State:
        if self.last_alert is not None and now < self.cooldown_until:
            return "cooldown"
        if self.suppressed or (self.last_alert is not None and now - self.last_alert <= self.spec.window):
            return "firing"
        return "ok"

    def counts(self, now: float, since: float, step: float) -> list[dict[str, float]]:
        """Matches per `step` seconds (a whole number of minutes) from `now - since` to now, oldest first."""
        minutes = max(1, int(step // 60))
        end = int(now // 60)
        buckets = max(1, -(-int(since // 60) // minutes))  # enough buckets to cover `since`
        first = end - minutes + 1 - (buckets - 1) * minutes  # the last bucket ends with the current minute
        series = dict.fromkeys(range(first, end + 1, minutes), 0)
        for minute, count in self.buckets:
            if first <= minute <= end:
                start = first + (minute - first) // minutes * minutes
                series[start] += count
        return [{"t": start * 60.0, "count": series[start]} for start in sorted(series)]

    def _bucket(self, now: float, n: int) -> None:
        minute = int(now // 60)
        if self.buckets and self.buckets[-1][0] == minute:
            self.buckets[-1][1] += n
        else:
            self.buckets.append([minute, n])
        while self.buckets and self.buckets[0][0] <= minute - MINUTES:
            self.buckets.popleft()

    def _fire(self, now: float) -> Alert:
        self.seq += 1
        spec = self.spec
        alert = Alert(f"{spec.name}-{int(now)}-{self.seq}", spec.name, now, self.pending, spec.threshold,
                      spec.window, self._records(), "; ".join(self.notes))
        self.pending = 0
        self.sample.clear()
        self.notes.clear()
        self.suppressed = False
        self.last_alert = now
        self.cooldown_until = now + spec.cooldown
        return alert

    # --- the state file (statefile.py) ------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """The counter's state as JSON values, for the state file (statefile.py)."""
        return {"total": self.total, "seq": self.seq, "recent": list(self.recent), "pending": self.pending,
                "sample": self._records(), "cooldown_until": self.cooldown_until, "suppressed": self.suppressed,
                "last_alert": self.last_alert, "notes": list(self.notes), "buckets": self._buckets_text()}

    def _buckets_text(self) -> str:
        """The per-minute counts as `MINUTE:COUNT` pairs joined by commas. A day of them is 1,440 pairs, saved
        every second: as JSON lists they were tens of milliseconds of encoding on the event loop at each save
        for 20 watches. Only the current minute's count changes: the text of the closed minutes is made once a
        minute, when one is added or drops out of the day."""
        buckets = self.buckets
        if not buckets:
            return ""
        closed = len(buckets) - 1
        made_from = (closed, buckets[0][0])
        if self._closed[0] != made_from:
            self._closed = made_from, "".join(f"{m}:{c}," for m, c in itertools.islice(buckets, closed))
        minute, count = buckets[-1]
        return f"{self._closed[1]}{minute}:{count}"

    def _records(self) -> list[dict[str, Any]]:
        return [item if isinstance(item, dict) else dict(item.record()) for item in self.sample]

    def load(self, data: dict[str, Any]) -> None:
        self.seq = int(data.get("seq", 0))
        for item in data.get("recent", []):  # a time per match (as first saved), or [time, count]
            at, count = (item, 1) if isinstance(item, int | float) else item
            self._keep(float(at), int(count))
        self.pending = int(data.get("pending", 0))
        self.sample.extend(data.get("sample", []))
        self.cooldown_until = float(data.get("cooldown_until", 0.0))
        self.suppressed = bool(data.get("suppressed", False))
        last = data.get("last_alert")
        self.last_alert = float(last) if last is not None else None
        self.notes = [str(n) for n in data.get("notes", [])]
        saved = data.get("buckets", [])  # MINUTE:COUNT,... (`_buckets_text`), or [minute, count] lists as first saved
        pairs = [pair.split(":") for pair in saved.split(",") if pair] if isinstance(saved, str) else saved
        self.buckets.extend([int(m), int(c)] for m, c in pairs)
