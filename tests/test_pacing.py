"""The reading pace of a busy log (pacing.py): pure arithmetic, checked on made-up clocks."""

from __future__ import annotations

import pytest

from logtail.sources.files.pacing import LATENCY_BUDGET, LINES_PER_READ, MIN_INTERVAL, Pace


def test_a_log_never_read_is_due_at_once() -> None:
    pace = Pace(per_subscriber=0.0)
    assert pace.delay(0.0) == 0.0


def test_a_line_after_a_quiet_spell_is_read_at_once() -> None:
    pace = Pace(per_subscriber=0.0)
    pace.read(100.0, lines=1, subscribers=1)
    assert pace.interval == LATENCY_BUDGET  # one line in a long while: the next lines may gather
    assert pace.delay(100.0 + LATENCY_BUDGET + 0.5) == 0.0


def test_a_steady_rate_is_read_every_lines_per_read_lines() -> None:
    pace = Pace(per_subscriber=0.0)
    now, rate = 0.0, 1000.0  # lines per second
    pace.read(now, lines=1, subscribers=1)
    for _ in range(5):
        now = pace.next_read
        pace.read(now, lines=round(rate * pace.interval), subscribers=1)
    assert pace.interval == pytest.approx(LINES_PER_READ / rate)


def test_a_slow_log_waits_no_longer_than_the_budget_and_a_fast_one_no_less_than_the_minimum() -> None:
    pace = Pace(per_subscriber=0.0)
    pace.read(0.0, lines=1, subscribers=1)
    pace.read(0.1, lines=5, subscribers=1)  # 50 lines/s: 8 lines would take 160 ms
    assert pace.interval == LATENCY_BUDGET
    pace.read(0.2, lines=10_000, subscribers=1)
    assert pace.interval == MIN_INTERVAL


def test_many_subscribers_widen_the_window_up_to_the_budget() -> None:
    pace = Pace(per_subscriber=25e-6)
    pace.read(0.0, lines=1, subscribers=1000)
    pace.read(0.01, lines=10_000, subscribers=1000)  # a rate that alone would give the minimum
    assert pace.interval == pytest.approx(0.025)
    pace.read(0.04, lines=10_000, subscribers=100_000)
    assert pace.interval == LATENCY_BUDGET


def test_a_read_due_within_the_clock_slack_is_done_now() -> None:
    pace = Pace(per_subscriber=0.0)
    pace.read(0.0, lines=1, subscribers=1)
    assert pace.delay(LATENCY_BUDGET - 0.0005) == 0.0
    assert pace.delay(LATENCY_BUDGET - 0.01) == pytest.approx(0.01)


def test_the_fan_out_of_a_batch_comes_out_of_the_budget() -> None:
    """A slow log waits the whole budget less what its batch's sends take: a few viewers get nearly all of
    it, a thousand get less, so that their last client still has its line within the budget."""
    few, many = Pace(per_subscriber=25e-6), Pace(per_subscriber=25e-6)
    for pace, subscribers in ((few, 10), (many, 1000)):
        pace.read(0.0, lines=1, subscribers=subscribers)
        pace.read(1.0, lines=10, subscribers=subscribers)  # 10 lines/s: 8 lines would take 800 ms
    assert few.interval == pytest.approx(LATENCY_BUDGET - 10 * 25e-6)
    assert many.interval == pytest.approx(LATENCY_BUDGET - 1000 * 25e-6)
    assert few.interval + 10 * 25e-6 == pytest.approx(many.interval + 1000 * 25e-6)


def test_a_fan_out_longer_than_half_the_budget_sets_the_interval() -> None:
    pace = Pace(per_subscriber=25e-6)
    subscribers = 2400  # a 60 ms fan-out: the budget less it (25 ms) would only mean more fan-outs
    pace.read(0.0, lines=1, subscribers=subscribers)
    pace.read(1.0, lines=10, subscribers=subscribers)
    assert pace.interval == pytest.approx(subscribers * 25e-6)
