"""since=: where a stream starts, across the current file and NAME.1, NAME.2, ..., in every timestamp format, then live.

The unit tests call the locator on real files; the end-to-end tests run a real server read by real clients.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from logtail.core.cursor import file_id
from logtail.sources.files.readback import ReadBack
from logtail.sources.files.since import BISECT_MIN, _locate
from tests.streams import SSEClient
from tests.support import LogtailServer

Start = Callable[..., LogtailServer]
T0 = 1791640536.0  # 2026-10-10T13:55:36Z; line i is written at T0 + 60 * i


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_dt(t: float) -> datetime:
    return datetime.fromtimestamp(t)


FORMATS: dict[str, Callable[[float, int], str]] = {
    "iso": lambda t, i: f"{iso(t)} INFO line {i}",
    "clf": lambda t, i: (f'127.0.0.1 - - [{datetime.fromtimestamp(t, UTC).strftime("%d/%b/%Y:%H:%M:%S")} +0000] '
                         f'"GET /{i} HTTP/1.1" 200 5'),
    "syslog": lambda t, i: f"{local_dt(t).strftime('%b %d %H:%M:%S')} host app[1]: line {i}",
    "json": lambda t, i: f'{{"time": "{iso(t)}", "msg": "line {i}"}}',
    "logfmt": lambda t, i: f'ts={int(t * 1000)} level=info msg="line {i}"',
}


def write(path: Path, lines: list[str], mtime: float | None = None) -> None:
    path.write_text("".join(line + "\n" for line in lines))
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def locate(path: Path, moment: float, now: float | None = None) -> tuple[str, int, bool]:
    """Which file ("current", ".1", ".2", ...), offset and sibling_start the locator picks."""
    fd = os.open(path, os.O_RDONLY)
    try:
        current = ReadBack(fd, os.pread(fd, 256, 0), 0, os.fstat(fd).st_size)
        start = _locate("app.log", current, path, moment, now or time.time())
    finally:
        os.close(fd)
    c = start.cursor
    for suffix in ("", *(f".{k}" for k in range(1, 9))):
        f = Path(f"{path}{suffix}")  # a sibling's start is named by its whole head (offset 0 is in every file)
        if f.exists() and c.fid == file_id(f.read_bytes()[:256], 256 if start.sibling_start else c.offset):
            return suffix or "current", c.offset, start.sibling_start
    raise AssertionError(f"no file holds {c}")


def offset_of(lines: list[str], index: int) -> int:
    return sum(len(line) + 1 for line in lines[:index])


# --- the locator on real files --------------------------------------------------------------------------

def test_locate_in_current_file_skips_continuation_lines(tmp_path: Path) -> None:
    lines = [f"{iso(T0)} ERROR boom", "  at a", "  at b", f"{iso(T0 + 60)} INFO next", "  more"]
    write(tmp_path / "app.log", lines)
    assert locate(tmp_path / "app.log", T0) == ("current", 0, False)
    assert locate(tmp_path / "app.log", T0 + 1) == ("current", offset_of(lines, 3), False)
    assert locate(tmp_path / "app.log", T0 + 61) == ("current", offset_of(lines, 5), False)  # the end


def test_locate_bisects_a_large_file(tmp_path: Path) -> None:
    lines = [f"{iso(T0 + i)} INFO line {i} " + "x" * 80 for i in range(20_000)]
    write(tmp_path / "app.log", lines)
    assert os.path.getsize(tmp_path / "app.log") > 4 * BISECT_MIN
    for i in (0, 1, 5_000, 12_345, 19_999):
        assert locate(tmp_path / "app.log", T0 + i - 0.5) == ("current", offset_of(lines, i), False)


def test_locate_reaches_into_name_1_only_when_needed(tmp_path: Path) -> None:
    old = [f"{iso(T0 + 60 * i)} line {i}" for i in range(5)]
    new = [f"{iso(T0 + 60 * i)} line {i}" for i in range(5, 10)]
    write(tmp_path / "app.log.1", old, mtime=T0 + 240)
    write(tmp_path / "app.log", new)
    assert locate(tmp_path / "app.log", T0 + 120) == (".1", offset_of(old, 2), False)
    assert locate(tmp_path / "app.log", T0 - 100) == (".1", 0, True)  # all of NAME.1 (offset 0 there)
    assert locate(tmp_path / "app.log", T0 + 300) == ("current", 0, False)
    assert locate(tmp_path / "app.log", T0 + 420) == ("current", offset_of(new, 2), False)
    os.utime(tmp_path / "app.log.1", (T0, T0))  # NAME.1 older than the moment: not read at all
    assert locate(tmp_path / "app.log", T0 + 120) == ("current", 0, False)


def test_locate_walks_back_through_older_siblings_only_as_far_as_needed(tmp_path: Path) -> None:
    """Regression: since= never looked past NAME.1, so a moment inside NAME.2 started at the top of NAME.1."""
    files = {".2": range(0, 5), ".1": range(5, 10), "": range(10, 15)}
    text = {suffix: [f"{iso(T0 + 60 * i)} line {i}" for i in r] for suffix, r in files.items()}
    for suffix, last in ((".2", 4), (".1", 9)):
        write(tmp_path / f"app.log{suffix}", text[suffix], mtime=T0 + 60 * last)
    write(tmp_path / "app.log", text[""])
    log = tmp_path / "app.log"
    assert locate(log, T0 + 120) == (".2", offset_of(text[".2"], 2), False)
    assert locate(log, T0 - 100) == (".2", 0, True)  # all of NAME.2
    assert locate(log, T0 + 300) == (".1", 0, True)  # all of NAME.1, none of NAME.2
    assert locate(log, T0 + 420) == (".1", offset_of(text[".1"], 2), False)
    write(tmp_path / "app.log.3", ["garbage without time"], mtime=T0 - 3600)  # older than any moment asked
    assert locate(log, T0 - 100) == (".2", 0, True)
    os.utime(tmp_path / "app.log.2", (T0, T0))  # last written before the moment: holds nothing newer
    assert locate(log, T0 + 120) == (".1", 0, True)


def test_locate_stops_at_a_missing_or_compressed_sibling(tmp_path: Path) -> None:
    write(tmp_path / "app.log.3", [f"{iso(T0)} line 0"], mtime=T0)
    write(tmp_path / "app.log.1", [f"{iso(T0 + 120)} line 2"], mtime=T0 + 120)
    write(tmp_path / "app.log", [f"{iso(T0 + 180)} line 3"])
    assert locate(tmp_path / "app.log", T0 - 100) == (".1", 0, True)  # app.log.2.gz / none: the walk ends


def test_lines_without_time_at_the_top_of_the_current_file_belong_to_name_1(tmp_path: Path) -> None:
    write(tmp_path / "app.log.1", [f"{iso(T0)} ERROR boom", "  at a"], mtime=T0)
    write(tmp_path / "app.log", ["  at b", f"{iso(T0 + 60)} INFO next"])
    assert locate(tmp_path / "app.log", T0 + 30) == ("current", len("  at b\n"), False)
    os.remove(tmp_path / "app.log.1")  # no older file: nothing to belong to, so they are kept
    assert locate(tmp_path / "app.log", T0 + 30) == ("current", 0, False)


def test_a_file_without_timestamps_starts_at_its_end(tmp_path: Path) -> None:
    write(tmp_path / "app.log", ["no time", "none here"])
    assert locate(tmp_path / "app.log", T0) == ("current", len("no time\nnone here\n"), False)


# --- end to end -----------------------------------------------------------------------------------------

def url(server: LogtailServer, since: str, extra: str = "", log: str = "app.log") -> str:
    return f"{server.url}/api/logs/{log}/stream?since={quote(since)}{extra}"


def format_lines(fmt: str) -> list[str]:
    return [FORMATS[fmt](T0 + 60 * i, i) for i in range(10)]


@pytest.fixture(scope="module")
def formats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LogtailServer, Path]]:
    """One server following a log per time format, each named after it: FMT/app.log with lines 5-9 and
    FMT/app.log.1 with lines 0-4 (a server of its own per format cost more than the tests)."""
    root = tmp_path_factory.mktemp("since-formats")
    for fmt in FORMATS:
        (root / fmt).mkdir()
        write(root / fmt / "app.log.1", format_lines(fmt)[:5], mtime=T0 + 240)
        write(root / fmt / "app.log", format_lines(fmt)[5:])
    server = LogtailServer([f"{fmt}={root / fmt / 'app.log'}" for fmt in FORMATS]).start(root)
    try:
        yield server, root
    finally:
        server.stop()


@pytest.mark.parametrize("fmt", sorted(FORMATS))
async def test_since_across_name_1_and_the_current_file_then_live(formats_server: tuple[LogtailServer, Path],
                                                                  fmt: str) -> None:
    server, root = formats_server
    make, lines = FORMATS[fmt], format_lines(fmt)
    async with SSEClient(url(server, iso(T0 + 180), log=fmt)) as client:  # from line 3, in NAME.1
        assert await client.wait_lines(7) == lines[3:]
        live = make(T0 + 600, 10)
        with (root / fmt / "app.log").open("a") as f:
            f.write(live + "\n")
        assert await client.wait_lines(8) == [*lines[3:], live]  # no gap, no duplicate at the seam
        assert client.notices("gap") == []


async def test_since_starting_in_name_2_reads_every_line_once_then_live(start_server: Start,
                                                                      tmp_path: Path) -> None:
    lines = [f"{iso(T0 + 60 * i)} INFO line {i}" for i in range(15)]
    write(tmp_path / "app.log.2", lines[:5], mtime=T0 + 240)
    write(tmp_path / "app.log.1", lines[5:10], mtime=T0 + 540)
    write(tmp_path / "app.log", lines[10:])
    server = start_server(str(tmp_path / "app.log"))
    for since, expected in ((iso(T0 + 120), lines[2:]), (iso(T0 - 3600), lines)):  # inside NAME.2; before it
        async with SSEClient(url(server, since)) as client:
            assert await client.wait_lines(len(expected)) == expected
            live = f"{iso(time.time())} INFO live {since}"
            with (tmp_path / "app.log").open("a") as f:
                f.write(live + "\n")
            assert await client.wait_lines(len(expected) + 1) == [*expected, live]
            assert client.notices() == []
        lines.append(live)


async def test_stack_trace_spanning_the_rotation_stays_whole(start_server: Start, tmp_path: Path) -> None:
    write(tmp_path / "app.log.1", [f"{iso(T0)} INFO a", f"{iso(T0 + 60)} ERROR boom", "  at one"], mtime=T0 + 60)
    write(tmp_path / "app.log", ["  at two", f"{iso(T0 + 120)} INFO b"])
    server = start_server(str(tmp_path / "app.log"))
    async with SSEClient(url(server, iso(T0 + 60))) as client:
        assert await client.wait_lines(4) == [f"{iso(T0 + 60)} ERROR boom", "  at one", "  at two",
                                              f"{iso(T0 + 120)} INFO b"]
    async with SSEClient(url(server, iso(T0 + 61))) as client:  # the trace is older: none of it
        assert await client.wait_lines(1) == [f"{iso(T0 + 120)} INFO b"]
    async with SSEClient(url(server, iso(T0 - 3600))) as client:  # before NAME.1 began: all of both files
        assert await client.wait_lines(5) == [f"{iso(T0)} INFO a", f"{iso(T0 + 60)} ERROR boom", "  at one",
                                              "  at two", f"{iso(T0 + 120)} INFO b"]


async def test_relative_since_with_filters_and_the_multi_log_stream(start_server: Start, tmp_path: Path) -> None:
    now = time.time()
    a = [f'{{"time": "{iso(now - m * 60)}", "level": "{lvl}", "n": {m}}}'
         for m, lvl in ((120, "error"), (50, "error"), (20, "info"), (10, "error"), (1, "error"))]
    b = [f"{iso(now - m * 60)} WARN b{m}" for m in (90, 40, 5)]
    write(tmp_path / "a.log", a)
    write(tmp_path / "b.log", b)
    server = start_server(str(tmp_path / "a.log"), str(tmp_path / "b.log"))
    async with SSEClient(f"{server.url}/api/logs/a.log/stream?since=1h&field=n%3C50&level=error") as client:
        assert await client.wait_lines(2) == [a[3], a[4]]
    async with SSEClient(f"{server.url}/api/stream?log=a.log&log=b.log&since=30m") as client:
        await client.wait_lines(4)
        assert client.lines("a.log") == a[2:] and client.lines("b.log") == b[2:]


async def test_since_is_bounded_by_resume_max_bytes_with_a_gap_notice(start_server: Start, tmp_path: Path) -> None:
    lines = [f"{iso(T0 + i)} line {i:04d} " + "x" * 68 for i in range(1000)]  # 100 bytes a line
    write(tmp_path / "app.log", lines)
    server = start_server(str(tmp_path / "app.log"), "--resume-max-bytes", "1050")
    async with SSEClient(url(server, iso(T0))) as client:
        got = await client.wait_lines(10)
        await client.wait(lambda: client.notices("gap"))
        assert got == lines[-10:]  # the newest 1050 bytes, less the line the cut went through
        assert client.notices("gap")[0]["skipped_bytes"] == 100_000 - 1050


async def test_bad_since_and_since_with_an_id(start_server: Start, tmp_path: Path) -> None:
    lines = [f"{iso(T0 + 60 * i)} line {i}" for i in range(5)]
    write(tmp_path / "app.log", lines)
    server = start_server(str(tmp_path / "app.log"))
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        for bad in ("yesterday", "15x", "2026-10-10", "x" * 65):
            for path in ("/api/logs/app.log/stream", "/api/stream?log=app.log"):
                resp = await http.get(path, params={"since": bad})
                assert resp.status_code == 422 and "since" in resp.text, (bad, resp.text)
    async with SSEClient(url(server, iso(T0))) as client:
        await client.wait_lines(5)
        third = client.id_of(lines[2])
    # A reconnect carries its id: it resumes from there and does not replay from since.
    async with SSEClient(url(server, iso(T0)), headers={"Last-Event-ID": third}) as client:
        assert await client.wait_lines(2) == lines[3:]
    async with SSEClient(url(server, iso(T0), f"&last_event_id={quote(third)}")) as client:
        assert await client.wait_lines(2) == lines[3:]


def test_a_file_without_timestamps_is_not_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 21: `since=` read a whole unstamped file (317 MB: 4.4 s of CPU per request). The search reads
    a bounded amount past its last timestamp, whatever the file's size."""
    from logtail.sources.files import since

    monkeypatch.setattr(since, "PROBE_BYTES", 64 * 1024)  # small bounds, so that a 16 MB file shows it
    monkeypatch.setattr(since, "SCAN_MAX", 256 * 1024)
    path = tmp_path / "plain.log"
    line = b"no timestamp on this line, just words\n"
    with path.open("wb") as f:
        f.write(line * (16 * 1024 * 1024 // len(line)))
    read = 0
    real_pread = os.pread

    def counting(fd: int, size: int, pos: int) -> bytes:
        nonlocal read
        data = real_pread(fd, size, pos)
        read += len(data)
        return data

    monkeypatch.setattr(since.os, "pread", counting)
    fd = os.open(path, os.O_RDONLY)
    try:
        found = since._first_at_or_after(fd, path.stat().st_size, 0.0, 1e9)
    finally:
        os.close(fd)
    assert found.offset is None
    assert read < 2 * 1024 * 1024  # log2(16 MB / 256 KB) probes of 64 KB, then 256 KB: not 16 MB


@pytest.mark.slow
async def test_since_on_a_large_file_without_timestamps_starves_nothing(start_server: Start, tmp_path: Path) -> None:
    """Issue 21, finding 5: `since=` read a whole file without timestamps (4.4 s of CPU for 317 MB) in the
    shared worker pool, so 8 at once made an unrelated request wait 54.6 s. Now the scan is bounded and runs
    in the heavy pool: while 8 such requests run, `/healthz` and the log list (a worker-pool call) answer
    within a generous bound, and every stream opens."""
    log = tmp_path / "app.log"
    with log.open("wb") as f:
        block = (b"x" * 99 + b"\n") * 10_000  # 1 MB of lines with no time in them
        for _ in range(120):
            f.write(block)
    server = start_server(str(log))
    url = f"{server.url}/api/logs/app.log/stream"
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0, read=None)) as client:
        async def open_since() -> int:
            async with client.stream("GET", url, params={"since": "1d", "format": "ndjson"}) as response:
                return response.status_code

        flood = asyncio.gather(*(open_since() for _ in range(8)))
        worst = 0.0
        while not flood.done():
            for path in ("/healthz", "/api/logs"):
                t0 = time.monotonic()
                assert (await client.get(f"{server.url}{path}", timeout=30)).status_code == 200
                worst = max(worst, time.monotonic() - t0)
            await asyncio.sleep(0.05)
        assert await flood == [200] * 8
    assert worst < 2.0, f"an unrelated request waited {worst:.2f}s"
