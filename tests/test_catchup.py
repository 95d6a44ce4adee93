"""Catching up: a client whose queue overflows is served what it missed from the window and the files, at its
own pace, and rejoins the live stream with no line lost or repeated and no `gap` unless the position is gone.

The end-to-end tests run a real server and read it through plain sockets: a reader throttled in user space,
and a reader that stops reading (tiny `SO_RCVBUF`, no recv) so that the server's sends block.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from logtail.core.catchup import CatchUp
from logtail.core.hub import Hub
from tests.hub_support import events, lines, publish, publish_texts, sub
from tests.streams import RawStream, SSEClient, append, counter, gauge, rss_kb
from tests.support import LogtailServer, Run, ServeAppLog, wait_for


@pytest.mark.parametrize("as_bytes", [False, True], ids=["lines", "blocks"])
async def test_window_catch_up_rejoins_live_with_nothing_lost_or_repeated(as_bytes: bool) -> None:
    """Lines keep being published between catch-up steps: every line arrives exactly once, in order. The
    same published as lists of lines and as blocks of bytes (block.py), where a catch-up starts and ends
    inside blocks."""
    hub = Hub(window_lines=10_000, queue_bytes=1 << 20)
    s = sub(queue_bytes=2000)
    hub.subscribe(["a"], s)
    catchup = CatchUp(s, hub, lambda name: None)
    rng = random.Random(7)
    published, at, received, lagged = 0, 300, [], False
    while published < 3000 or s.lagging or s.chunks:
        if published < 3000:
            n = rng.randint(1, 40)
            if as_bytes:
                at = publish_texts(hub, [f"line {i}" for i in range(published, published + n)], at)
            else:
                publish(hub, lines(n, start=published))
            published += n
        lagged = lagged or bool(s.lagging)
        if s.lagging and rng.random() < 0.7:
            await catchup.step()
        if rng.random() < 0.5:
            received += [k for kind, k in events(s.take()) if kind != "id"]
    assert lagged, "the client never fell behind"
    assert received == [f"line {i}" for i in range(published)]
    assert hub.channel("a").stats.lines_dropped == 0


def has_line(text: str) -> Callable[[RawStream], bool]:
    marker = json.dumps(text).encode()
    return lambda s: marker in s.body


def record(stream: RawStream) -> tuple[list[str], list[dict[str, object]]]:
    """Line texts and notices, in order."""
    texts, found = [], []
    for ev in stream.events():
        if ev.get("event") == "line":
            texts.append(json.loads(ev["data"])["text"])
        elif ev.get("event") == "notice":
            found.append(json.loads(ev["data"]))
    return texts, found


class Peak(threading.Thread):
    """The highest value of `probe()` while running (sampled every 50 ms)."""

    def __init__(self, probe: Callable[[], int]) -> None:
        super().__init__(daemon=True)
        self.probe = probe
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, self.probe())
            self.done.wait(0.05)

    def stop(self) -> int:
        self.done.set()
        self.join(5)
        return self.peak


def test_throttled_reader_gets_every_line_of_a_burst_exactly_once(serve_app_log: ServeAppLog) -> None:
    """A reader throttled to ~1.5 MB/s during a 100,000-line burst (more than its queue and the window
    hold): every line exactly once, in order, no `gap`; nothing counted as dropped."""
    server, log = serve_app_log("--queue-bytes", "262144", "--window-lines", "5000")
    reader = RawStream(server.port, "/api/logs/app.log/stream", rcvbuf=65536)
    wait_for(lambda: gauge(server.url) == 1, 10)
    burst = [f"{i:06d} burst" for i in range(100_000)]
    for k in range(0, len(burst), 25_000):
        append(log, burst[k:k + 25_000])
    append(log, ["END"])
    lagged = Peak(lambda: int(gauge(server.url, "logtail_clients_catching_up")))
    lagged.start()
    reader.read_at(1.5e6, has_line("END"), 40, "the end of the burst")
    assert lagged.stop() == 1, "the reader never had to catch up"
    texts, found = record(reader)
    assert found == []
    assert texts == [*burst, "END"]
    assert counter(server.url, "logtail_lines_dropped_total", "app.log") == 0
    wait_for(lambda: gauge(server.url, "logtail_clients_catching_up") == 0, 10)
    reader.close()


async def test_stalled_reader_resumes_with_everything_and_bounded_memory(serve_app_log: ServeAppLog) -> None:
    """A reader that stops for 10 s while 50 MB are written then gets every line; the server's RSS stays far
    below what buffering the burst for it would take, and a fast reader gets every line meanwhile."""
    server, log = serve_app_log("--queue-bytes", str(1 << 20), "--window-lines", "2000")
    assert server.proc is not None
    pid = server.proc.pid
    wait_for(lambda: gauge(server.url) == 0, 10)
    rss0 = rss_kb(pid)
    stalled = RawStream(server.port, "/api/logs/app.log/stream", rcvbuf=4096)
    async with SSEClient(f"{server.url}/api/logs/app.log/stream") as fast:
        await asyncio.to_thread(wait_for, lambda: gauge(server.url) == 2, 10)
        peak = Peak(lambda: rss_kb(pid))
        peak.start()
        t0 = time.monotonic()
        pad = "x" * 990
        written = []
        for batch in range(50):  # 50 x 1,000 lines of 1,000 bytes
            chunk = [f"{batch * 1000 + i:06d} {pad}" for i in range(1000)]
            append(log, chunk)
            written += chunk
        await fast.wait_lines(len(written), 30)
        assert fast.lines() == written and not fast.notices()
        assert gauge(server.url, "logtail_clients_catching_up") == 1
        await asyncio.sleep(max(0.0, 10 - (time.monotonic() - t0)))  # the rest of the 10 s stall
        append(log, ["END"])
        await asyncio.to_thread(stalled.read_until, has_line("END"), 60, "the stalled reader to catch up")
        grown = peak.stop() - rss0
        print(f"server RSS grew by {grown} kB")
        texts, found = record(stalled)
        assert found == []
        assert texts == [*written, "END"]
        assert grown < 40_000, f"server RSS grew by {grown} kB for a 50 MB burst"
    stalled.close()


def test_laggard_rotated_twice_reads_on_through_name_2(serve_app_log: ServeAppLog) -> None:
    """Regression: the laggard's file is rotated twice while it lags, so its position is in `app.log.2`; it
    got a `gap` and lost the rest of that file. Now it reads the rest of `app.log.2`, all of `app.log.1`
    and the new file, every line once and in order, each `rotated` notice where it happened. (The server lets
    a renamed file go 0.2 s after its last write, not 5 s: nothing is written to one after its rename.)"""
    server, log = serve_app_log("--queue-bytes", "65536", "--window-lines", "100",
                                env={"LOGTAIL_ROTATE_WAIT": "0.2"})
    laggard = RawStream(server.port, "/api/logs/app.log/stream", rcvbuf=4096)
    wait_for(lambda: gauge(server.url) == 1, 10)
    first, pad = [], "y" * 200
    for batch in range(40):  # 8 MB: more than the laggard's buffers and queue hold
        chunk = [f"F0 {batch * 1000 + i:06d} {pad}" for i in range(1000)]
        append(log, chunk)
        first += chunk
        if batch >= 4 and gauge(server.url, "logtail_clients_catching_up") == 1:
            break
    assert gauge(server.url, "logtail_clients_catching_up") == 1, "the laggard never fell behind"
    read = counter(server.url, "logtail_lines_read_total", "app.log")
    log.rename(log.with_name("app.log.1"))
    second = [f"F1 {i}" for i in range(500)]
    append(log, second)
    wait_for(lambda: counter(server.url, "logtail_lines_read_total", "app.log") >= read + 500, 10)
    log.with_name("app.log.1").rename(log.with_name("app.log.2"))
    log.rename(log.with_name("app.log.1"))
    third = [f"F2 {i}" for i in range(500)]
    append(log, third)
    wait_for(lambda: counter(server.url, "logtail_lines_read_total", "app.log") >= read + 1000, 10)

    laggard.read_until(has_line("F2 499"), 30, "the laggard to catch up")
    texts, found = record(laggard)
    assert texts == [*first, *second, *third]
    assert [n["kind"] for n in found] == ["rotated", "rotated"]
    order = [json.loads(ev["data"])["text" if ev["event"] == "line" else "kind"]
             for ev in laggard.events() if ev.get("event") in ("line", "notice")]
    assert order == [*first, "rotated", *second, "rotated", *third]
    laggard.close()


def test_multi_log_stream_catches_up_per_log_with_consistent_ids(tmp_path: Path, run_server: Run) -> None:
    """Two logs on one throttled connection, one of them bursting: every line of each log exactly once and
    in order; each line's event id carries that line's own cursor for its log; resuming from the last id
    gives nothing again but what comes next."""
    logs = tmp_path / "logs"
    logs.mkdir()
    a, b = logs / "a.log", logs / "b.log"
    a.touch()
    b.touch()
    server = run_server(LogtailServer([str(a), str(b), "--backlog", "0", "--queue-bytes", "65536",
                                       "--window-lines", "1000"]))
    path = "/api/stream?log=a.log&log=b.log"
    reader = RawStream(server.port, path, rcvbuf=16384)
    wait_for(lambda: gauge(server.url) == 1, 10)
    burst_a = [f"a {i:05d} {'z' * 60}" for i in range(30_000)]
    trickle_b = [f"b {i}" for i in range(300)]
    for k in range(0, 30_000, 3000):
        append(a, burst_a[k:k + 3000])
        append(b, trickle_b[k // 100:k // 100 + 30])
    append(b, ["b END"])
    lagged = Peak(lambda: int(gauge(server.url, "logtail_clients_catching_up")))
    lagged.start()
    reader.read_at(1.5e6, has_line("b END"), 40, "both logs")
    reader.read_until(has_line(burst_a[-1]), 20, "the rest of a.log")
    assert lagged.stop() == 1, "the reader never had to catch up"
    by_log: dict[str, list[str]] = {"a.log": [], "b.log": []}
    last_id = ""
    shown: dict[str, str] = {}  # each log's last line's own id
    for ev in reader.events():
        assert ev.get("event") != "notice", ev
        if ev.get("event") == "line":
            data = json.loads(ev["data"])
            by_log[data["log"]].append(data["text"])
            shown[data["log"]] = data["id"]
            assert "id" not in ev, ev  # a multi-log stream's id closes each write (docs/api.md)
        elif "id" in ev:
            assert set(shown.values()) <= set(ev["id"].split(",")), (shown, ev["id"])
            last_id = ev["id"]
    assert by_log == {"a.log": burst_a, "b.log": [*trickle_b, "b END"]}
    reader.close()
    again = RawStream(server.port, path, headers={"Last-Event-ID": last_id})
    append(a, ["a after"])
    again.read_until(has_line("a after"), 10, "the line after the resume point")
    assert record(again) == (["a after"], [])
    again.close()


def test_plain_text_and_ndjson_readers_catch_up_too(serve_app_log: ServeAppLog) -> None:
    """`format=text` and `format=ndjson` have no ids: a throttled reader of each still gets every line once."""
    server, log = serve_app_log("--queue-bytes", "16384", "--window-lines", "500")
    text = RawStream(server.port, "/api/logs/app.log/stream?format=text", rcvbuf=16384)
    ndjson = RawStream(server.port, "/api/logs/app.log/stream?format=ndjson", rcvbuf=16384)
    wait_for(lambda: gauge(server.url) == 2, 10)
    burst = [f"{i:05d} plain {'p' * 90}" for i in range(40_000)]  # 4 MB: more than the socket buffers
    lagged = Peak(lambda: int(gauge(server.url, "logtail_clients_catching_up")))
    lagged.start()
    append(log, [*burst, "END"])
    text.read_at(2e6, lambda s: s.body.endswith(b"\nEND\n"), 30, "the text stream's end")
    ndjson.read_at(2e6, lambda s: b'"text":"END"' in s.body, 30, "the NDJSON stream's end")
    assert lagged.stop() >= 1, "no reader had to catch up"
    assert text.body.decode().splitlines() == [*burst, "END"]
    objects = [json.loads(x) for x in ndjson.body.decode().splitlines()]
    assert [o.get("event", "line") for o in objects] == ["line"] * (len(burst) + 1)
    assert [o["text"] for o in objects] == [*burst, "END"]
    assert counter(server.url, "logtail_lines_dropped_total", "app.log") == 0
    text.close()
    ndjson.close()
