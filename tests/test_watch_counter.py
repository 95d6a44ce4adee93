"""Counting a watch's matches (logtail/watches/counter.py): threshold in a sliding window, cooldown, buckets."""

from __future__ import annotations

import json

from logtail.match.filters import LineFilter
from logtail.watches.counter import STEPS, WatchCounter
from logtail.watches.spec import WatchSpec

T0 = 1_800_000_000.0  # a whole minute


def counter(threshold: int, window: float, cooldown: float = 0.0) -> WatchCounter:
    return WatchCounter(WatchSpec("w", ("app",), LineFilter(q="ERROR"), (("q", "ERROR"),), threshold, window,
                                  cooldown, ("hook",)))


def rec(i: int) -> dict[str, object]:
    return {"log": "app", "text": f"ERROR {i}", "id": f"app=000000000000:{i}", "level": "error"}


def test_below_threshold_never_fires() -> None:
    c = counter(3, 60)
    assert c.add(T0, 1, [rec(1)]) is None
    assert c.add(T0 + 1, 1, [rec(2)]) is None
    assert c.total == 2 and c.state(T0 + 2) == "ok"


def test_reaching_threshold_fires_once_with_count_and_lines() -> None:
    c = counter(3, 60)
    c.add(T0, 2, [rec(1), rec(2)])
    alert = c.add(T0 + 1, 1, [rec(3)])
    assert alert is not None and alert.count == 3
    assert [line["text"] for line in alert.lines] == ["ERROR 1", "ERROR 2", "ERROR 3"]
    assert c.add(T0 + 2, 1, [rec(4)]) is None  # spent: three new matches are needed


def test_window_slides_old_matches_out() -> None:
    c = counter(3, 10)
    c.add(T0, 2, [rec(1), rec(2)])
    assert c.add(T0 + 11, 1, [rec(3)]) is None  # the first two are out of the window
    assert c.add(T0 + 12, 1, [rec(4)]) is None
    alert = c.add(T0 + 13, 1, [rec(5)])
    assert alert is not None and alert.count == 5  # every match since the last alert is counted


def test_threshold_one_and_no_cooldown_alerts_on_every_batch() -> None:
    c = counter(1, 60, 0)
    assert [c.add(T0 + i, 1, [rec(i)]) is not None for i in range(4)] == [True] * 4
    assert c.seq == 4


def test_cooldown_suppresses_then_sums_into_the_alert_at_its_end() -> None:
    c = counter(2, 60, cooldown=600)
    first = c.add(T0, 2, [rec(1), rec(2)])
    assert first is not None and first.count == 2
    assert c.add(T0 + 10, 5, [rec(i) for i in range(3, 8)]) is None  # crossed during the cooldown
    assert c.state(T0 + 11) == "cooldown"
    assert c.tick(T0 + 599) is None
    owed = c.tick(T0 + 600)
    assert owed is not None and owed.count == 5
    assert c.tick(T0 + 601) is None


def test_matches_below_threshold_in_cooldown_carry_into_the_next_alert() -> None:
    c = counter(3, 60, cooldown=100)
    c.add(T0, 3, [rec(1)])
    c.add(T0 + 10, 1, [rec(2)])  # no crossing during the cooldown
    assert c.tick(T0 + 200) is None
    alert = c.add(T0 + 201, 3, [rec(3)])
    assert alert is not None and alert.count == 4


def test_counts_are_per_minute_buckets_ending_now() -> None:
    c = counter(100, 60)
    c.add(T0 + 5, 2, [rec(1)])
    c.add(T0 + 65, 3, [rec(2)])
    c.add(T0 + 130, 1, [rec(3)])
    series = c.counts(T0 + 150, 5 * 60, 60)
    assert [point["count"] for point in series] == [0, 0, 2, 3, 1]
    assert series[-1]["t"] == T0 + 120
    wide = c.counts(T0 + 150, 6 * 60, 120)
    assert [point["count"] for point in wide] == [0, 2, 4]


def test_state_survives_dump_and_load() -> None:
    c = counter(3, 60, cooldown=100)
    c.add(T0, 2, [rec(1), rec(2)])
    again = counter(3, 60, cooldown=100)
    again.load(c.dump())
    alert = again.add(T0 + 1, 1, [rec(3)])  # a burst split by a restart still crosses
    assert alert is not None and alert.count == 3


def test_unspent_matches_take_at_most_a_time_per_step_of_the_window() -> None:
    """A threshold of a million over a minute of matches arriving every few ms keeps (and saves) at most
    STEPS + 1 entries; each match counts at its time rounded later to a step: longer, never shorter."""
    c = counter(1_000_000, 60)
    for i in range(20_000):
        c.add(T0 + i * 0.003, 2, [rec(i)])
    assert c.unspent == 40_000 and len(c.recent) <= STEPS + 1
    again = counter(1_000_000, 60)
    again.load(json.loads(json.dumps(c.dump())))
    assert (again.unspent, list(again.recent)) == (c.unspent, list(c.recent))
    step = 10 / STEPS
    c = counter(2, 10)
    c.add(T0 + step / 4, 1, [rec(1)])
    assert c.add(T0 + 10 + step / 2, 1, [rec(2)]) is not None  # 10 + step/4 apart: within a step of the window


def test_a_state_saved_with_a_time_per_match_is_read() -> None:
    c = counter(3, 60)
    c.load({"recent": [T0, T0 + 1], "pending": 2})
    assert c.unspent == 2 and c.add(T0 + 2, 1, [rec(3)]) is not None


def test_a_days_buckets_are_saved_as_text_that_follows_each_minute() -> None:
    """The per-minute counts go into the state file as `MINUTE:COUNT,...` (one string for JSON to encode, the
    closed minutes' text made once a minute); what is loaded back is what was counted, also after minutes
    were added and a day's first ones dropped out; a file with [minute, count] lists (as first saved) is read."""
    c = counter(10**9, 60)
    start = 29_000_000 * 60.0
    for minute in range(1500):  # more than a day: the first 60 minutes drop out
        c.add(start + minute * 60, minute % 7 + 1, [])
        if minute in (0, 1, 700, 1499):
            saved = json.loads(json.dumps(c.dump()))
            assert isinstance(saved["buckets"], str)
            again = counter(10**9, 60)
            again.load(saved)
            assert list(again.buckets) == list(c.buckets)
    c.add(start + 1499 * 60 + 30, 5, [])  # the current minute's count changes, the closed ones do not
    again = counter(10**9, 60)
    again.load(json.loads(json.dumps(c.dump())))
    assert list(again.buckets) == list(c.buckets) and again.buckets[-1] == [29_001_499, 1499 % 7 + 1 + 5]
    assert len(again.buckets) == 1440
    first_saved = counter(10**9, 60)
    first_saved.load({"buckets": [[29_000_000, 3], [29_000_001, 4]]})
    assert list(first_saved.buckets) == [[29_000_000, 3], [29_000_001, 4]]
