"""Multi-line events shipped through a real Redis (`logtail ship` with `:multiline=`): one event per stream
line of an entry (`sizes`), the same events and ids on the web node, and a shipper stopped in the middle
of an event neither splits nor repeats it when it starts again."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from logtail.sources.redis import keys
from tests.redis_support import RedisServer, Shipper, body_lines, listed
from tests.streams import TRACEBACK, SSEClient, append
from tests.support import LogtailServer, wait_for

Start = Callable[..., LogtailServer]

def events_in_redis(redis: RedisServer, name: str) -> list[str]:
    return redis.lines("web1", name)  # Entry.lines: one per event


def test_an_entry_of_events_round_trips_and_bad_sizes_are_a_problem() -> None:
    fields = keys.line_fields(["a", "b\n  c\n  d", "e"], [1], "ab", 30)
    assert fields["sizes"] == "1,3,1" and fields["lines"] == "a\nb\n  c\n  d\ne"
    entry = keys.decode_entry(b"1700000000000-0", fields)
    assert entry.problem is None
    assert [(line.text, line.truncated) for line in entry.lines("app")] == [("a", False), ("b\n  c\n  d", True),
                                                                          ("e", False)]
    assert "sizes" not in keys.line_fields(["a", "b"], [], "ab", 4)
    for sizes in ("1,3", "1,3,2", "0,4,1", "x", "1,,4"):
        assert keys.decode_entry(b"1-0", {**fields, "sizes": sizes}).problem == \
            "sizes is not a list of line counts adding up to the lines"
    # An event's lines are each capped at max_line_bytes, as the shipper's follower cut them.
    long_event = keys.decode_entry(b"1-0", keys.line_fields(["x", "  " + "y" * 100], [], "ab", 9))
    assert [(line.text, line.truncated) for line in long_event.lines("app", max_line_bytes=10)] == [
        ("x", False), ("  yyyyyyyy", True)]


async def test_shipped_events_are_events_on_the_web_node(start_server: Start, start_shipper: Callable[..., Shipper],
                                                         redis_server: RedisServer, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    start_shipper(f"app={log}:multiline=python:multiline_wait=300ms", "--host-name", "web1",
                  "--redis", redis_server.url)
    node = start_server("--redis", redis_server.url)
    listed(node, "app@web1")
    expected = ["2026-10-10 13:55:35,000 INFO before", "\n".join(TRACEBACK), "2026-10-10 13:55:37,000 INFO after"]
    async with SSEClient(f"{node.url}/api/logs/app@web1/stream?backlog=0") as client:
        append(log, ["2026-10-10 13:55:35,000 INFO before", *TRACEBACK, "2026-10-10 13:55:37,000 INFO after"])
        assert await client.wait_lines(3, 30) == expected  # the last one after the 300 ms of quiet
        got = [json.loads(e["data"]) for e in client.events if e.get("event") == "line"]
    assert events_in_redis(redis_server, "app") == expected
    assert [r["level"] for r in got] == ["info", "error", "info"]
    # Filters see the event as a whole; a resume after the first event gets the rest, each whole and once.
    async with SSEClient(f"{node.url}/api/logs/app@web1/stream?backlog=10&q=KeyError") as client:
        assert await client.wait_lines(1, 30) == [expected[1]]
    async with SSEClient(f"{node.url}/api/logs/app@web1/stream?backlog=10",
                         headers={"Last-Event-ID": str(got[0]["id"])}) as client:
        assert await client.wait_lines(2, 30) == expected[1:]
    async with SSEClient(f"{node.url}/api/logs/app@web1/stream?backlog=10",
                         headers={"Last-Event-ID": str(got[1]["id"])}) as client:
        assert await client.wait_lines(1, 30) == expected[2:]
    ndjson = await body_lines(f"{node.url}/api/logs/app@web1/stream?backlog=3&format=ndjson", 3)
    assert [json.loads(x)["text"] for x in ndjson] == expected  # one object per event


@pytest.mark.parametrize("kill", [signal.SIGKILL, signal.SIGTERM])
def test_a_shipper_stopped_inside_an_event_ships_it_whole_and_once_when_it_starts_again(
        start_shipper: Callable[..., Shipper], redis_server: RedisServer, tmp_path: Path, kill: int) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    args = (f"app={log}:multiline=python:multiline_wait=20s", "--host-name", "web1", "--redis", redis_server.url)
    shipper = start_shipper(*args)
    wait_for(lambda: redis_server.client().hexists(keys.LOGS_KEY, "app@web1"), 30, 0.1, "the log registered")
    append(log, ["2026-10-10 13:55:35,000 INFO one", *TRACEBACK[:3]])
    # "one" is complete once the traceback's logged line began the next event; that event waits 20 s.
    wait_for(lambda: events_in_redis(redis_server, "app") == ["2026-10-10 13:55:35,000 INFO one"], 30, 0.1,
             "the first event stored")
    shipper.kill(kill)
    assert events_in_redis(redis_server, "app") == ["2026-10-10 13:55:35,000 INFO one"]
    append(log, [*TRACEBACK[3:], "2026-10-10 13:55:37,000 INFO two", "2026-10-10 13:55:38,000 INFO three"])
    start_shipper(*args)
    expected = ["2026-10-10 13:55:35,000 INFO one", "\n".join(TRACEBACK), "2026-10-10 13:55:37,000 INFO two"]

    def stored() -> bool:
        got = events_in_redis(redis_server, "app")
        assert got == expected[:len(got)], "an event was split or repeated"
        return got == expected
    wait_for(stored, 30, 0.1, "the events stored, each once")
