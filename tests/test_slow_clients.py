"""Slow and misbehaving clients against a real server: a client that stops reading slows nobody and costs
bounded memory, is skipped ahead with an exact `gap` count (`overflow=skip`; catching up is tested in
test_catchup.py), or is disconnected after `--send-timeout`;
connection churn leaves nothing behind; `--max-clients` refuses with 503; SIGTERM ends open streams quickly.

A stalled client is a plain socket with a tiny `SO_RCVBUF` that does not call recv(): the kernel buffers on
both sides fill and the server's send blocks, as with a browser tab on a dead network.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from tests.streams import RawStream, SSEClient, append, counter, fd_count, gauge, notices, parse_events, rss_kb
from tests.support import LogtailServer, ServeAppLog, wait_for

LINE = "x" * 180


def settle(server: LogtailServer, what: str) -> tuple[int, int]:
    """Baseline (fd count, RSS kB) once no stream is open and the descriptor count has stopped moving."""
    assert server.proc is not None
    pid = server.proc.pid
    wait_for(lambda: gauge(server.url) == 0, 10, what=f"no clients ({what})")
    counts: list[int] = []

    def stable() -> bool:
        counts.append(fd_count(pid))
        return len(counts) >= 5 and len(set(counts[-5:])) == 1

    wait_for(stable, 10, 0.1, f"a stable fd count ({what})")
    return counts[-1], rss_kb(pid)


@pytest.mark.slow
async def test_stalled_client_does_not_slow_others_or_grow_memory(serve_app_log: ServeAppLog) -> None:
    """One client that never reads: three others get every line of a 6 MB burst promptly; RSS stays bounded
    (the stalled client's 1 MB queue overflows: it is skipped ahead, not buffered)."""
    server, log = serve_app_log("--queue-bytes", str(1 << 20))
    assert server.proc is not None
    _, rss0 = settle(server, "start")
    stalled = RawStream(server.port, "/api/logs/app.log/stream?overflow=skip", rcvbuf=1024)
    url = f"{server.url}/api/logs/app.log/stream"
    async with SSEClient(url) as c1, SSEClient(url) as c2, SSEClient(url) as c3:
        await asyncio.to_thread(wait_for, lambda: gauge(server.url) == 4, 10)
        total, worst = 0, 0.0
        for _ in range(12):  # 12 x 2500 lines x ~200 B = 6 MB, more than the stalled client's buffers hold
            append(log, [f"{total + i} {LINE}" for i in range(2500)])
            total += 2500
            t0 = time.monotonic()
            for c in (c1, c2, c3):
                await c.wait_lines(total, 10)
            worst = max(worst, time.monotonic() - t0)
        expected = [f"{i} {LINE}" for i in range(total)]
        for c in (c1, c2, c3):
            assert c.lines() == expected
        assert worst < 3.0, f"a fast client waited {worst:.1f}s for a 500 KB batch"
        assert counter(server.url, "logtail_lines_dropped_total", "app.log") > 0
        grown = rss_kb(server.proc.pid) - rss0
        assert grown < 60_000, f"server RSS grew by {grown} kB with one stalled client"
    stalled.close()


def accounted(stream: RawStream) -> int:
    """Lines a stream has received or been told it missed (`gap` notices)."""
    count = 0
    for ev in stream.events():
        if ev.get("event") == "line":
            count += 1
        elif ev.get("event") == "notice" and json.loads(ev["data"])["kind"] == "gap":
            count += json.loads(ev["data"])["missed"]
    return count


def test_slow_client_gap_counts_exactly_and_is_not_overtaken(serve_app_log: ServeAppLog) -> None:
    """A client skipped ahead (queue overflow) gets lines in order and `gap` notices whose `missed` counts
    exactly the lines it did not get. Regression: a small chunk that still fitted the queue was queued after
    dropped ones, so lines after the gap arrived before its notice; and a drop with an idle writer left the
    client in drop mode with no notice at all."""
    server, log = serve_app_log("--queue-bytes", "65536")
    slow = RawStream(server.port, "/api/logs/app.log/stream?overflow=skip", rcvbuf=1024)
    wait_for(lambda: gauge(server.url) == 1, 10)
    total = 0
    for _ in range(300):  # up to 12 MB in batches of 40 KB, until the slow client's queue overflowed
        append(log, [f"{total + i} {LINE}" for i in range(200)])
        total += 200
        if total % 4000 == 0 and counter(server.url, "logtail_lines_dropped_total", "app.log") > 0:
            break
    assert counter(server.url, "logtail_lines_dropped_total", "app.log") > 0, "the client never overflowed"
    # Lines written while the client is still skipping are counted in its gap, not delivered: keep
    # writing a marker until one arrives after the client has caught up.
    deadline = time.monotonic() + 30
    while b' last"' not in slow.body:
        assert time.monotonic() < deadline, "no marker line arrived after the gap"
        append(log, [f"{total} last"])
        total += 1
        slow.read_available(wait=0.3)
    # The marker that arrived need not be the last one written (a read returns with the first bytes that
    # come): read on until every line written is accounted for, received or counted in a gap.
    while accounted(slow) < total and time.monotonic() < deadline:
        slow.read_available(wait=0.3)

    expected_next, received, missed_total = 0, 0, 0
    for ev in slow.events():
        if ev.get("event") == "line":
            seq = int(json.loads(ev["data"])["text"].split()[0])
            assert seq == expected_next, f"line {seq} where {expected_next} was due (lost, repeated or a gap "\
                                         f"notice placed after the lines that follow the gap)"
            expected_next += 1
            received += 1
        elif ev.get("event") == "notice":
            notice = json.loads(ev["data"])
            assert notice["kind"] == "gap" and notice["missed"] > 0, notice
            expected_next += notice["missed"]
            missed_total += notice["missed"]
    assert expected_next == total
    assert received + missed_total == total
    assert missed_total > 0
    assert missed_total == counter(server.url, "logtail_lines_dropped_total", "app.log")
    slow.close()


async def test_small_queue_does_not_drop_lines_for_a_client_that_keeps_up(serve_app_log: ServeAppLog) -> None:
    """Regression: a read batch larger than `--queue-bytes` was dropped even for an idle, fast client (empty
    queue), which then got a `gap` for lines it could have read. An empty queue takes one chunk of any size."""
    server, log = serve_app_log("--queue-bytes", "4096")
    async with SSEClient(f"{server.url}/api/logs/app.log/stream") as c:
        await asyncio.to_thread(wait_for, lambda: gauge(server.url) == 1, 10)
        burst = [f"{i} {LINE}" for i in range(500)]  # 95 KB in one write
        append(log, burst)
        assert await c.wait_lines(500) == burst
        assert not c.notices()


@pytest.mark.slow
def test_send_timeout_closes_the_connection_of_a_client_that_never_reads(serve_app_log: ServeAppLog) -> None:
    """`--send-timeout 1`: a client that reads nothing is ended: the gauge drops and its connection is closed.
    Regression: the stream ended but uvicorn's graceful close waited for the peer to drain its buffers, so the
    socket, its descriptor and megabytes of buffers stayed as long as the client did."""
    server, log = serve_app_log("--send-timeout", "1")
    assert server.proc is not None
    fds0, _ = settle(server, "start")
    stalled = RawStream(server.port, "/api/logs/app.log/stream", rcvbuf=1024)
    wait_for(lambda: gauge(server.url) == 1, 10)
    for batch in range(100):  # until the server gives up on the client: at most 20 MB
        append(log, [f"{batch} {i} {LINE}" for i in range(1000)])
        if gauge(server.url) == 0:
            break
        time.sleep(0.05)
    assert gauge(server.url) == 0, "the stalled client was never disconnected"
    wait_for(lambda: fd_count(server.proc.pid) <= fds0, 10, 0.1,
             "the stalled client's connection to be closed by the server")
    stalled.close()


def test_send_timeout_ends_a_download_that_is_never_read(serve_app_log: ServeAppLog) -> None:
    """`--send-timeout 1` applies to downloads as to streams: a client that requests a 32 MB file and reads
    nothing has its connection closed, and the file is let go (by the kernel's TCP_USER_TIMEOUT here, on a
    direct connection; the keep-alive ticker's part is tested in test_rawresponse.py)."""
    server, log = serve_app_log("--send-timeout", "1")
    assert server.proc is not None
    append(log, [f"{i} {LINE}" for i in range(170_000)])  # ~32 MB: far more than the socket buffers
    fds0, _ = settle(server, "start")
    stalled = RawStream(server.port, "/api/logs/app.log/download", rcvbuf=1024)
    wait_for(lambda: fd_count(server.proc.pid) > fds0, 10, 0.05, "the download to start")
    wait_for(lambda: fd_count(server.proc.pid) <= fds0, 20, 0.1,
             "the stalled download's connection and file to be closed by the server")
    stalled.close()


def test_connection_churn_leaves_nothing_behind(serve_app_log: ServeAppLog) -> None:
    """300 streams opened and dropped (30 at a time, some mid-catch-up): the gauge, the descriptor count and
    the memory return to their baseline."""
    server, log = serve_app_log()
    assert server.proc is not None
    append(log, [f"{i} {LINE}" for i in range(2000)])
    fds0, rss0 = settle(server, "start")
    for round_ in range(10):
        streams = [RawStream(server.port, f"/api/logs/app.log/stream?backlog={100 * (k % 3)}")
                   for k in range(30)]
        append(log, [f"round {round_}"])
        for k, s in enumerate(streams):
            if k % 2:  # half are dropped once the stream is live, half at once
                s.read_until(lambda r: b"retry:" in r.body, 10, "the stream to start")
            s.close()
    fds1, rss1 = settle(server, "after the churn")
    assert fds1 == fds0
    assert rss1 - rss0 < 20_000, f"RSS grew by {rss1 - rss0} kB after 300 connections"


def test_max_clients_refuses_streams_but_not_the_page_or_api(serve_app_log: ServeAppLog) -> None:
    """`--max-clients 3`: the 4th stream gets 503 with Retry-After; `/`, `/api/logs`, `/healthz` answer 200;
    once a stream closes, a new one is accepted."""
    server, _ = serve_app_log("--max-clients", "3")
    streams = [RawStream(server.port, "/api/logs/app.log/stream") for _ in range(3)]
    wait_for(lambda: gauge(server.url) == 3, 10)
    for path in ("/api/logs/app.log/stream", "/api/stream?log=app.log"):
        r = httpx.get(server.url + path, timeout=5)
        assert r.status_code == 503 and "Retry-After" in r.headers, (path, r.status_code, r.headers)
    for path in ("/", "/api/logs", "/healthz", "/metrics"):
        assert httpx.get(server.url + path, timeout=5).status_code == 200, path
    streams.pop().close()
    wait_for(lambda: gauge(server.url) == 2, 10)
    again = RawStream(server.port, "/api/logs/app.log/stream")
    again.read_until(lambda r: r.status is not None, 10, "a status line")
    assert again.status == 200
    for s in [*streams, again]:
        s.close()


def test_sigterm_with_50_open_streams_exits_fast_and_notifies(serve_app_log: ServeAppLog) -> None:
    """SIGTERM with 50 open streams (SSE, NDJSON and text): the process exits within 5 s and every client got
    the final `shutdown` notice."""
    server, log = serve_app_log()
    assert server.proc is not None
    formats = ["sse", "ndjson", "text"]
    streams = [RawStream(server.port, f"/api/logs/app.log/stream?format={formats[k % 3]}") for k in range(50)]
    wait_for(lambda: gauge(server.url) == 50, 10)
    append(log, ["before shutdown"])
    for s in streams:
        s.read_until(lambda r: b"before shutdown" in r.body, 10, "a live line")
    t0 = time.monotonic()
    server.terminate()
    server.proc.wait(5)
    assert time.monotonic() - t0 < 5
    for k, s in enumerate(streams):
        s.read_until(lambda r: r.eof, 5, "the end of the stream")
        body = s.body.decode()
        if formats[k % 3] == "sse":
            assert [n["kind"] for n in notices(parse_events(body))] == ["shutdown"]
        elif formats[k % 3] == "ndjson":
            assert json.loads(body.splitlines()[-1])["kind"] == "shutdown"
        else:
            assert "shutdown" in body.splitlines()[-1]
        s.close()


@pytest.mark.slow
def test_sigterm_with_a_stalled_client_still_exits_within_seconds(serve_app_log: ServeAppLog) -> None:
    """A client whose buffers are full cannot take its `shutdown` notice: SIGTERM must not wait for it
    beyond --shutdown-timeout (3 s)."""
    server, log = serve_app_log("--queue-bytes", str(1 << 20))
    assert server.proc is not None
    stalled = RawStream(server.port, "/api/logs/app.log/stream?overflow=skip", rcvbuf=1024)
    wait_for(lambda: gauge(server.url) == 1, 10)
    for _ in range(30):  # 6 MB: more than its buffers and its queue hold
        append(log, [f"{i} {LINE}" for i in range(1000)])
    wait_for(lambda: counter(server.url, "logtail_lines_dropped_total", "app.log") > 0, 10,
             what="the stalled client to overflow")
    t0 = time.monotonic()
    server.terminate()
    server.proc.wait(6)
    assert time.monotonic() - t0 < 6
    stalled.close()
