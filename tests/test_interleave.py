"""The multi-log backlog in time order (logtail/web/interleave.py): by the source's entry time, else the
line's own timestamp, else its predecessor's; a log's own order kept; a log with no time at all last."""

from __future__ import annotations

from logtail.core.frames import Line
from logtail.web.interleave import interleave

NOW = 2_000_000_000.0


def lines(log: str, *texts: str) -> list[Line]:
    return [Line(log, text, "0123456789ab", i + 1) for i, text in enumerate(texts)]


def order(runs: list[tuple[str, list[Line]]]) -> list[str]:
    return [line.text for _, run in runs for line in run]


def no_entry_time(line: Line) -> float | None:
    return None


def test_lines_are_merged_by_their_own_timestamps_and_runs_keep_one_log_each() -> None:
    web1 = lines("a@web1", "2026-12-07T02:52:57Z one", "2026-12-07T02:53:00Z two")
    web2 = lines("a@web2", "2026-12-07T02:52:08Z three", "2026-12-07T02:52:58Z four")
    runs = interleave({"a@web1": web1, "a@web2": web2}, no_entry_time, NOW)
    assert order(runs) == ["2026-12-07T02:52:08Z three", "2026-12-07T02:52:57Z one", "2026-12-07T02:52:58Z four",
                           "2026-12-07T02:53:00Z two"]
    assert [log for log, _ in runs] == ["a@web2", "a@web1", "a@web2", "a@web1"]


def test_the_sources_entry_time_wins_over_the_text() -> None:
    stored = {"x": 30.0, "y": 10.0, "z": 20.0}  # by each text's last letter; the text's own time is 1970's
    a, b = lines("a", "1970-01-01T00:00:00Z x", "1970-01-01T00:00:00Z z"), lines("b", "1970-01-01T00:00:00Z y")
    runs = interleave({"a": a, "b": b}, lambda line: stored[line.text[-1]], NOW)
    assert [text[-1] for text in order(runs)] == ["y", "x", "z"]  # a's z (20) stays after a's x (30)


def test_untimed_lines_follow_the_line_before_them_and_a_log_keeps_its_order() -> None:
    a = lines("a", "2026-12-07T00:00:05Z boom", "Traceback:", "  frame", "2026-12-07T00:00:01Z earlier clock")
    b = lines("b", "2026-12-07T00:00:03Z b1", "2026-12-07T00:00:06Z b2")
    assert order(interleave({"a": a, "b": b}, no_entry_time, NOW)) == [
        "2026-12-07T00:00:03Z b1", "2026-12-07T00:00:05Z boom", "Traceback:", "  frame",
        "2026-12-07T00:00:01Z earlier clock", "2026-12-07T00:00:06Z b2"]


def test_a_log_without_times_counts_as_arrived_now_and_comes_last() -> None:
    plain = lines("plain", "hello", "world")
    timed = lines("timed", "2026-12-07T00:00:00Z t1", "2026-12-07T00:00:01Z t2")
    assert order(interleave({"plain": plain, "timed": timed}, no_entry_time, NOW)) == [
        "2026-12-07T00:00:00Z t1", "2026-12-07T00:00:01Z t2", "hello", "world"]


def test_one_log_or_empty_backlogs_pass_through() -> None:
    only = lines("a", "2026-12-07T00:00:09Z late", "2026-12-07T00:00:01Z early")
    assert interleave({"a": only, "b": []}, no_entry_time, NOW) == [("a", only)]
    assert interleave({"a": [], "b": []}, no_entry_time, NOW) == []
