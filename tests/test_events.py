"""Multi-line events (logtail/core/events.py): the pure joining stage, on real tracebacks."""

from __future__ import annotations

import pytest

from logtail.core.events import EventJoiner, rule_for
from logtail.core.lines import RawLine

PYTHON = [
    "2026-10-10 13:55:36,120 INFO request started",
    "2026-10-10 13:55:36,123 ERROR request failed",
    "Traceback (most recent call last):",
    '  File "/srv/app/handlers.py", line 42, in handle',
    "    user = users[user_id]",
    "KeyError: 'u-17'",
    "",
    "During handling of the above exception, another exception occurred:",
    "",
    "Traceback (most recent call last):",
    '  File "/srv/app/handlers.py", line 44, in handle',
    "    raise NotFound(user_id)",
    "app.errors.NotFound: u-17",
    "2026-10-10 13:55:36,130 INFO next request",
    "Done: not an exception line, outside any traceback",
]
JAVA = [
    "2026-10-10 13:55:36.123 ERROR [main] c.e.App - request failed",
    "java.lang.IllegalStateException: boom",
    "\tat com.example.App.run(App.java:10)",
    "\tat com.example.App.main(App.java:5)",
    "Caused by: java.io.IOException: disk full",
    "\tat com.example.Store.write(Store.java:77)",
    "\t... 42 more",
    "2026-10-10 13:55:36.200 INFO [main] c.e.App - next",
    "java.lang.String is a class name, but this line follows a complete event",
]


def raws(lines: list[str]) -> list[RawLine]:
    out, end = [], 0
    for text in lines:
        end += len(text.encode()) + 1
        out.append(RawLine(text, end))
    return out


def join(spec: str | dict[str, str], lines: list[str], **caps: int) -> list[list[str]]:
    joiner = EventJoiner(rule_for(spec), **caps)
    events = joiner.feed(raws(lines)) + joiner.flush()
    return [e.text.split("\n") for e in events]


@pytest.mark.parametrize(("spec", "lines", "sizes"), [
    ("python", PYTHON, [1, 12, 1, 1]),
    ("java", JAVA, [7, 1, 1]),
    ("indent", ["a", "  b", "\tc", "d", "e", " f"], [3, 1, 2]),
    ({"start": r"^\d{4}-\d\d-\d\d "}, JAVA, [7, 2]),
    # auto joins only what no logger writes as a record: Java's exception line stays an event of its own.
    ("auto", PYTHON, [1, 12, 1, 1]),
    ("auto", JAVA, [1, 6, 1, 1]),
    ("auto", ["a", "  indented, outside a traceback", "b: not after a frame", "Caused by: x", "\tat y"], [1, 1, 3]),
])
def test_events_by_rule(spec: str | dict[str, str], lines: list[str], sizes: list[int]) -> None:
    events = join(spec, lines)
    assert [len(e) for e in events] == sizes
    assert [line for e in events for line in e] == lines  # nothing lost, nothing reordered


def test_an_event_ends_at_its_last_line_and_the_last_event_waits() -> None:
    joiner = EventJoiner(rule_for("java"))
    lines = raws(JAVA)
    first = joiner.feed(lines[:3])
    assert first == [] and joiner.pending and joiner.start == 0
    done = joiner.feed(lines[3:8])
    assert [(e.end, e.truncated) for e in done] == [(lines[6].end, False)]  # the id: after its last line
    assert joiner.start == lines[6].end  # the pending event begins where the last one ended
    assert [e.text for e in joiner.flush()] == [JAVA[7]] and not joiner.pending


def test_an_event_is_capped_and_what_follows_starts_a_new_one() -> None:
    """200,000 continuation lines (200 times the cap): events of at most max_lines lines, flagged, memory
    bounded."""
    joiner = EventJoiner(rule_for("indent"), max_lines=1000, max_chars=1 << 20)
    sizes: list[int] = []
    flags: list[bool] = []
    batch = [RawLine("ERROR head", 11)]
    end = 11
    for i in range(200_000):
        end += 6
        batch.append(RawLine("  at x", end))
        if len(batch) == 10_000 or i == 199_999:
            for event in joiner.feed(batch):
                sizes.append(event.text.count("\n") + 1)
                flags.append(event.truncated)
            batch = []
    assert len(joiner._lines) <= 1000  # what the joiner holds stays under the cap
    last = joiner.flush()[0]
    sizes.append(last.text.count("\n") + 1)
    assert sum(sizes) == 200_001 and max(sizes) == 1000
    assert all(flags) and not last.truncated and last.end == end


def test_a_cut_line_flags_its_event() -> None:
    joiner = EventJoiner(rule_for("indent"))
    done = joiner.feed([RawLine("a", 2), RawLine("  b", 6, truncated=True), RawLine("c", 8)])
    assert [(e.text, e.end, e.truncated) for e in done] == [("a\n  b", 6, True)]


@pytest.mark.parametrize(("spec", "message"), [
    ("ruby", "'ruby' is not one of python, java, indent"),
    ({"begin": "x"}, "start = "),
    ({"start": "(?=x)"}, "start: invalid regex"),
])
def test_bad_multiline_values(spec: str | dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        rule_for(spec)


def test_endless_continuation_lines_are_capped_with_memory_bounded() -> None:
    """Hostile input: an event that never ends (200,000 continuation lines, many times the default cap).
    Each event holds at most the cap, nothing is dropped, and what is pending never grows past the cap."""
    joiner = EventJoiner(rule_for("indent"))
    sizes: list[int] = []
    lines = ["2026-10-10 13:55:36 ERROR start"] + ["  frame"] * 200_000
    for at in range(0, len(lines), 10_000):
        events = joiner.feed(raws(lines[at:at + 10_000]))
        sizes += [e.text.count("\n") + 1 for e in events]
        assert all(e.truncated for e in events)
        assert len(joiner._lines) <= joiner.max_lines  # what is held stays bounded
    sizes += [e.text.count("\n") + 1 for e in joiner.flush()]
    assert sum(sizes) == len(lines) and max(sizes) == joiner.max_lines
