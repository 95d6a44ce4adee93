"""Resume by cursor (`name=<file id>:<offset>`) against a real server: after a restart, beyond the in-memory
window, from the rotated files `name.1`, `name.2`, on the multi-log stream; a `gap` only when the position is gone.

Each test reads a stream, keeps an event id, lets things happen while the client is away, reconnects with
that id and checks the exact lines that come back, then appends a sentinel line and waits for it, so that a
duplicate or a line out of order after the catch-up would also show.
"""

from __future__ import annotations

import gzip
import itertools
import os
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.streams import SSEClient, append, counter, gauge, line_texts
from tests.support import LogtailServer, Run, Start, wait_for

_sentinels = itertools.count(1)


def lines(prefix: str, first: int, last: int) -> list[str]:
    return [f"{prefix} {i}" for i in range(first, last + 1)]


def lines_read(server: LogtailServer, log: str) -> float:
    return counter(server.url, "logtail_lines_read_total", log)


def wait_read(server: LogtailServer, log: str, count: float) -> None:
    """Wait until the server has read `count` lines of `log` (so changes happened 'while the client was away')."""
    wait_for(lambda: lines_read(server, log) >= count, 10, what=f"server to read {count} lines of {log}")


async def cursor_of(url: str, text: str, backlog: int = 1) -> str:
    """The event id of `text`, among the last `backlog` lines, as a client that connects now sees it."""
    async with SSEClient(f"{url}?backlog={backlog}") as c:
        await c.wait_lines(backlog)
        return c.id_of(text)


async def resume(url: str, cursor: str, expected: list[str], sentinel_log: Path, *, via: str = "header",
                 tag: str = "") -> SSEClient:
    """Reconnect after `cursor`; the stream must carry exactly `expected`, then a sentinel appended now."""
    headers = {"Last-Event-ID": cursor} if via == "header" else {}
    if via == "query":
        url += ("&" if "?" in url else "?") + f"last_event_id={quote(cursor)}"
    sentinel = f"sentinel {next(_sentinels)}{tag}"
    async with SSEClient(url, headers) as c:
        await c.wait_lines(len(expected), 10)
        append(sentinel_log, [sentinel])
        await c.wait(lambda: sentinel in c.lines(), 10, "the sentinel line")
        assert c.lines() == [*expected, sentinel]
        return c


async def away_after_line_10(logs: Path, start_server: Start) -> tuple[Path, LogtailServer, str, str, float]:
    """`app.log` with lines 1-10 under a server keeping 5 lines in memory (quick rotations), the id of line 10
    as a client saw it, then lines 11-20 read by the server while that client is away: the log, the server, the
    stream's URL, the id, and the lines the server has read by then."""
    log = logs / "app.log"
    append(log, lines("line", 1, 10))
    server = quick_rotations(start_server, str(log), "--window-lines", "5")
    url = f"{server.url}/api/logs/app.log/stream"
    at10 = await cursor_of(url, "line 10")
    read = lines_read(server, "app.log") + 10
    append(log, lines("line", 11, 20))
    wait_read(server, "app.log", read)
    return log, server, url, at10, read


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    d = tmp_path / "logs"
    d.mkdir()
    return d


@pytest.mark.slow
async def test_resume_after_server_restart(logs: Path, start_server: Start) -> None:
    """A cursor from before a restart resumes exactly after its line (Last-Event-ID header and query)."""
    log = logs / "app.log"
    append(log, lines("line", 1, 20))
    server = start_server(str(log))
    url = f"{server.url}/api/logs/app.log/stream"
    async with SSEClient(f"{url}?backlog=20") as c:
        assert await c.wait_lines(20) == lines("line", 1, 20)
        at10, at20 = c.id_of("line 10"), c.id_of("line 20")
    server.stop()
    append(log, lines("line", 21, 30))
    server = start_server(str(log), port=server.port)

    c = await resume(url, at10, lines("line", 11, 30), log, via="header")
    assert not c.notices()
    c = await resume(url, at20, [*lines("line", 21, 30), "sentinel 1"], log, via="query")
    assert not c.notices()


async def test_resume_beyond_window_reads_the_file(logs: Path, start_server: Start) -> None:
    """A position that left the in-memory window (50 lines of 500) is read back from the file, exactly."""
    log = logs / "app.log"
    log.touch()
    server = start_server(str(log), "--window-lines", "50", "--backlog", "0")
    url = f"{server.url}/api/logs/app.log/stream"
    async with SSEClient(url) as c:
        append(log, lines("line", 1, 500))
        assert await c.wait_lines(500) == lines("line", 1, 500)
        at5 = c.id_of("line 5")
    c = await resume(url, at5, lines("line", 6, 500), log)
    assert not c.notices()
    # The ids of lines read back from the file are the same cursors as live ones: resuming from one works.
    n = int(c.lines()[-1].split()[-1])
    c = await resume(url, c.id_of("line 300"), [*lines("line", 301, 500), f"sentinel {n}"], log, via="query")
    assert not c.notices()


async def test_resume_and_backlog_from_inside_one_block_of_the_window(logs: Path, start_server: Start) -> None:
    """500 lines past the file's head arrive in one read, kept as one block of bytes (block.py): a backlog
    and a resume from a line in the middle of that block give exactly the lines after it."""
    log = logs / "app.log"
    append(log, ["head " + "h" * 300])
    server = start_server(str(log), "--backlog", "0")
    url = f"{server.url}/api/logs/app.log/stream"
    async with SSEClient(url) as c:
        wait_for(lambda: gauge(server.url) == 1, 10, what="the client")
        append(log, lines("line", 1, 500))  # one write: one read, one block
        assert await c.wait_lines(500) == lines("line", 1, 500)
        at250 = c.id_of("line 250")
    async with SSEClient(f"{url}?backlog=7") as c:
        assert await c.wait_lines(7) == lines("line", 494, 500)
    c = await resume(url, at250, lines("line", 251, 500), log)
    assert not c.notices()


@pytest.mark.parametrize("restart", [False, True], ids=["live", "restarted"])
async def test_resume_from_rotated_sibling(logs: Path, restart: bool, start_server: Start) -> None:
    """The client was away during a rename rotation: the rest of `app.log.1`, then the new file, no gap."""
    log = logs / "app.log"
    append(log, lines("line", 1, 10))
    args = [str(log), "--window-lines", "5"]
    server = quick_rotations(start_server, *args)
    url = f"{server.url}/api/logs/app.log/stream"
    at10 = await cursor_of(url, "line 10", backlog=5)
    read = lines_read(server, "app.log")
    if restart:
        server.stop()
    append(log, lines("line", 11, 20))
    log.rename(logs / "app.log.1")
    append(log, lines("line", 21, 30))
    if restart:
        server = quick_rotations(start_server, *args, port=server.port)
    else:
        wait_read(server, "app.log", read + 20)
    c = await resume(url, at10, lines("line", 11, 30), log)
    assert not c.notices("gap")


async def test_resume_multi_log_stream_vector_id(logs: Path, start_server: Start) -> None:
    """On /api/stream?log=a&log=b the id carries one cursor per log; each log resumes where it was."""
    a, b = logs / "a.log", logs / "b.log"
    a.touch()
    b.touch()
    server = start_server(str(a), str(b), "--window-lines", "5")
    url = f"{server.url}/api/stream?log=a.log&log=b.log&backlog=0"
    async with SSEClient(url) as c:
        for i in range(1, 7):
            append(a, [f"a {i}"])
            append(b, [f"b {i}"])
        await c.wait_lines(12)
        # The id that closed the write of the 12th line: the client has exactly the lines up to it. It then
        # receives more, and resumes from that id as if it had not.
        closing = await c.wait(lambda: [ev for ev in c.events[-1:] if set(ev) == {"id"}], 5, "the write's id")
        cut = closing[0]
        received = c.events[: c.events.index(cut) + 1]
        for i in range(7, 11):
            append(a, [f"a {i}"])
            append(b, [f"b {i}"])
        await c.wait_lines(20)
    read = lines_read(server, "a.log"), lines_read(server, "b.log")
    got = {name: line_texts(received, name) for name in ("a.log", "b.log")}
    assert len(cut["id"].split(",")) == 2, cut["id"]
    for i in range(11, 21):
        append(a, [f"a {i}"])
        append(b, [f"b {i}"])
    wait_read(server, "a.log", read[0] + 10)
    wait_read(server, "b.log", read[1] + 10)
    async with SSEClient(url, {"Last-Event-ID": cut["id"]}) as c:
        await c.wait(lambda: len(c.lines()) == 40 - len(got["a.log"]) - len(got["b.log"]), 10,
                     "the rest of both logs")
        append(a, ["a sentinel"])
        append(b, ["b sentinel"])
        await c.wait(lambda: "a sentinel" in c.lines() and "b sentinel" in c.lines(), 10, "sentinels")
        assert got["a.log"] + c.lines("a.log") == [*lines("a", 1, 20), "a sentinel"]
        assert got["b.log"] + c.lines("b.log") == [*lines("b", 1, 20), "b sentinel"]
        assert not c.notices()


async def test_gap_when_file_truncated_while_away(logs: Path, start_server: Start) -> None:
    """Lines after the cursor were lost to a truncation (and left the window): one `gap`, then the new content."""
    log, server, url, at10, read = await away_after_line_10(logs, start_server)
    with log.open("w") as f:  # copytruncate: the same file, shorter
        f.write("new 1\nnew 2\n")
    wait_read(server, "app.log", read + 2)
    c = await resume(url, at10, ["new 1", "new 2"], log)
    assert [n["kind"] for n in c.notices()] == ["gap"]


def rotate(log: Path) -> None:
    """logrotate's rename scheme: `NAME.k` becomes `NAME.(k+1)`, oldest first, then `NAME` becomes `NAME.1`."""
    siblings = sorted(log.parent.glob(f"{log.name}.*"), key=lambda f: int(f.name.rsplit(".", 1)[1]), reverse=True)
    for f in siblings:
        f.rename(log.parent / f"{log.name}.{int(f.name.rsplit('.', 1)[1]) + 1}")
    log.rename(log.parent / f"{log.name}.1")


def quick_rotations(start: Start, *args: str, port: int | None = None) -> LogtailServer:
    """A server that lets a renamed file go 0.2 s after its last write (not 5 s), so that rotations settle fast;
    only where nothing is written to a file after it was renamed."""
    return start(*args, port=port, env={"LOGTAIL_ROTATE_WAIT": "0.2"})


@pytest.mark.parametrize("restart", [False, True], ids=["live", "restarted"])
async def test_resume_from_name_2(logs: Path, restart: bool, start_server: Start) -> None:
    """Regression: rotated twice while the client was away, its position is in `app.log.2`; it got a `gap`
    and only the current file. Now: the rest of `app.log.2`, all of `app.log.1`, the current file, no gap."""
    log = logs / "app.log"
    append(log, lines("line", 1, 10))
    args = [str(log), "--window-lines", "5"]
    server = quick_rotations(start_server, *args)
    url = f"{server.url}/api/logs/app.log/stream"
    at10 = await cursor_of(url, "line 10")
    read = lines_read(server, "app.log")
    if restart:
        server.stop()
    append(log, lines("line", 11, 20))
    rotate(log)
    append(log, lines("middle", 1, 10))
    if not restart:  # a live follower sees each file while it has the name
        wait_read(server, "app.log", read + 20)
    rotate(log)
    append(log, lines("current", 1, 10))
    if restart:
        server = quick_rotations(start_server, *args, port=server.port)
    else:
        wait_read(server, "app.log", read + 30)
    c = await resume(url, at10, [*lines("line", 11, 20), *lines("middle", 1, 10), *lines("current", 1, 10)],
                     log)
    assert not c.notices("gap")


@pytest.mark.parametrize("restart", [False, True], ids=["live", "restarted"])
async def test_inode_reuse_does_not_resume_into_new_file(logs: Path, restart: bool, start_server: Start) -> None:
    """A file deleted and recreated (often with the same inode) is another file: gap, never a resume into it."""
    log = logs / "app.log"
    append(log, lines("old line", 1, 10))
    server = start_server(str(log), "--window-lines", "5")
    url = f"{server.url}/api/logs/app.log/stream"
    at10 = await cursor_of(url, "old line 10")
    read = lines_read(server, "app.log")
    if restart:
        server.stop()
    log.unlink()
    if not restart:
        wait_for(lambda: not any(os.path.realpath(f"/proc/{server.proc.pid}/fd/{fd}").startswith(str(log))
                                 for fd in os.listdir(f"/proc/{server.proc.pid}/fd")), 10,
                 what="server to close the deleted file")
    fresh = lines("new content", 1, 30)  # longer than the old file, so the offset exists in it
    append(log, fresh)
    if restart:
        server = start_server(str(log), "--window-lines", "5", port=server.port)
    else:
        wait_read(server, "app.log", read + 30)
    c = await resume(url, at10, fresh, log)
    assert [n["kind"] for n in c.notices()] == ["gap"]


async def test_resume_while_the_rotated_file_is_drained_has_no_duplicates(logs: Path, start_server: Start) -> None:
    """Regression: a client resuming while the follower was still draining the renamed file (`app.log.1`) got
    that file read back to its end and, live, the rest of the drain as well: those lines came twice."""
    log = logs / "app.log"
    append(log, lines("line", 1, 10))
    # A queue large enough for the whole drain: the live part must not be skipped ahead (another policy).
    server = start_server(str(log), "--window-lines", "5", "--queue-bytes", str(64 << 20))
    url = f"{server.url}/api/logs/app.log/stream"
    at10 = await cursor_of(url, "line 10", backlog=5)
    bulk = [f"bulk {i} {'x' * 100}" for i in range(100_000)]  # 11 MB: the drain takes several steps
    append(log, bulk)
    log.rename(logs / "app.log.1")
    append(log, ["after 1"])
    async with SSEClient(url, {"Last-Event-ID": at10}) as c:
        await c.wait_lines(len(bulk) + 1, 30)
        append(log, ["the end"])
        await c.wait(lambda: c.received[-1][1] == "the end", 10, "the last line")
        assert c.lines() == [*bulk, "after 1", "the end"]


async def test_resume_from_name_2_while_name_1_is_drained_has_no_duplicates(logs: Path, run_server: Run) -> None:
    """The position is in `app.log.2` while the follower still drains `app.log.1` (renamed just now, written
    a moment ago): the read-back is the rest of `app.log.2` and `app.log.1` up to what is published; the rest
    of `app.log.1` and the current file come live. Every line once, in order."""
    log = logs / "app.log"
    append(log, lines("line", 1, 10))
    server = run_server(LogtailServer([str(log), "--window-lines", "5"], env={"LOGTAIL_ROTATE_WAIT": "3"}))
    url = f"{server.url}/api/logs/app.log/stream"
    at10 = await cursor_of(url, "line 10")
    read = lines_read(server, "app.log")
    append(log, lines("line", 11, 20))
    rotate(log)
    append(log, lines("middle", 1, 10))
    wait_read(server, "app.log", read + 20)  # the first file let go: the middle one is followed
    append(log, lines("middle", 11, 20))
    rotate(log)  # the middle file, just written, is drained for up to 3 s
    append(log, lines("current", 1, 10))
    c = await resume(url, at10, [*lines("line", 11, 20), *lines("middle", 1, 20), *lines("current", 1, 10)],
                     log)
    assert not c.notices("gap")


async def test_filtered_stream_resumes_exactly_from_the_file(logs: Path, start_server: Start) -> None:
    """A filtered client (q=keep) resumes from its last matching line, beyond the window: exactly the matching
    lines after it, none of the others."""
    log = logs / "app.log"
    log.touch()
    server = start_server(str(log), "--window-lines", "5", "--backlog", "0")
    url = f"{server.url}/api/logs/app.log/stream?q=keep"
    every = [f"{'keep' if i % 3 == 0 else 'drop'} {i}" for i in range(300)]
    async with SSEClient(url) as c:
        append(log, every[:150])
        await c.wait_lines(50)
        cursor = c.id_of("keep 147")
    append(log, every[150:])
    c = await resume(url, cursor, [t for t in every[150:] if t.startswith("keep")], log, tag=" keep")
    assert not c.notices()


async def test_multi_log_resume_gets_a_log_that_appeared_while_away(logs: Path, start_server: Start) -> None:
    """Regression: on /api/stream?log=a&log=b with b.log missing, the client's id had no entry for b; b.log
    appeared while it was away, and on resume b got no backlog and no read-back: its lines were lost
    without a notice. A log absent from a resumed id is read from the start of its file."""
    a, b = logs / "a.log", logs / "b.log"
    append(a, ["a 1"])
    server = start_server(str(a), str(b))
    url = f"{server.url}/api/stream?log=a.log&log=b.log&backlog=10"
    async with SSEClient(url) as c:
        await c.wait_lines(1)
        await c.wait(lambda: c.last_id() is not None and c.events[-1].keys() == {"id"}, 5, "the position id")
        cursor = c.last_id()
    assert cursor is not None and "b.log" not in cursor
    read = lines_read(server, "b.log")
    append(b, ["b 1", "b 2"])
    append(a, ["a 2"])
    wait_read(server, "b.log", read + 2)
    async with SSEClient(url, {"Last-Event-ID": cursor}) as c:
        await c.wait(lambda: len(c.lines()) >= 3, 10, "a 2, b 1, b 2")
        append(b, ["b 3"])
        await c.wait_lines(4, 10, log=None)
        assert c.lines("a.log") == ["a 2"]
        assert c.lines("b.log") == ["b 1", "b 2", "b 3"]
        assert not c.notices("gap")


async def test_rotated_twice_while_away_gets_name_1_after_the_gap(logs: Path, start_server: Start) -> None:
    """The server saw both rotations: the cursor's file is `app.log.2`, compressed since (`.2.gz`, beyond
    reach), and `app.log.1` is known to come after it. One `gap` saying how many bytes were lost, then all of
    `app.log.1`, then the current file."""
    log, server, url, at10, read = await away_after_line_10(logs, start_server)
    log.rename(logs / "app.log.1")
    append(log, lines("middle", 1, 10))
    wait_read(server, "app.log", read + 10)
    (logs / "app.log.1").rename(logs / "app.log.2")
    log.rename(logs / "app.log.1")
    append(log, lines("current", 1, 10))
    wait_read(server, "app.log", read + 20)
    with gzip.open(logs / "app.log.2.gz", "wb") as gz:
        gz.write((logs / "app.log.2").read_bytes())
    (logs / "app.log.2").unlink()
    c = await resume(url, at10, [*lines("middle", 1, 10), *lines("current", 1, 10)], log)
    assert [n["kind"] for n in c.notices()] == ["gap"]
    assert c.notices()[0]["skipped_bytes"] == sum(len(x) + 1 for x in lines("line", 11, 20))


async def test_gap_after_truncation_does_not_replay_an_older_rotated_file(logs: Path, start_server: Start) -> None:
    """`app.log.1` is a file rotated away before the client's file: when the client's position is lost to a
    truncation, `app.log.1` must not be replayed (its lines are older than the position)."""
    log = logs / "app.log"
    append(log, lines("old", 1, 5))
    server = quick_rotations(start_server, str(log), "--window-lines", "5", "--backlog", "0")
    url = f"{server.url}/api/logs/app.log/stream"
    wait_read(server, "app.log", 5)
    read = 5
    log.rename(logs / "app.log.1")
    append(log, lines("line", 1, 10))
    wait_read(server, "app.log", read + 10)
    at10 = await cursor_of(url, "line 10")
    append(log, lines("line", 11, 20))
    wait_read(server, "app.log", read + 20)
    with log.open("w") as f:  # truncated and rewritten in place
        f.write("new 1\nnew 2\n")
    wait_read(server, "app.log", read + 22)
    c = await resume(url, at10, ["new 1", "new 2"], log)
    assert [n["kind"] for n in c.notices()] == ["gap"]
