"""Files that misbehave, against a real server: permissions, a directory removed and recreated, hundreds of
files with one very busy, gigabytes of growth, a 100 MB line, atomic replacement many times a second, and a
path that turns into a directory or a FIFO. Whatever happens, the server reports it, keeps its memory
bounded and keeps the other logs streaming.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.streams import SSEClient, append, rss_kb
from tests.support import LogtailServer, Run

NOBODY = 65534


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory an unprivileged server can traverse (pytest's tmp_path is private to root)."""
    d = Path(tempfile.mkdtemp(prefix="logtail-files-"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@functools.cache
def nobody_can_run_python() -> bool:
    try:
        return subprocess.run([sys.executable, "-c", "pass"], user=NOBODY, group=NOBODY, extra_groups=[],
                              timeout=30).returncode == 0
    except PermissionError:
        return False


def unprivileged_server(args: list[str], env: dict[str, str] | None = None) -> LogtailServer:
    """A server subject to file permissions, which root ignores. As root: run it as `nobody`, or, when
    `nobody` cannot run this interpreter (it may live under /root, mode 0700), as root without the
    capabilities that bypass permission checks (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH). Files are made
    unreadable with mode 000, which denies both."""
    if os.geteuid() != 0:
        return LogtailServer(args, env=env)
    if nobody_can_run_python():
        return LogtailServer(args, user=NOBODY, env=env)
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root, and neither `nobody` nor setpriv can drop the permission bypass")
    server = LogtailServer(args, env=env)
    server.args = [setpriv, "--bounding-set=-dac_override,-dac_read_search", *server.args]
    return server


def healthy(server: LogtailServer) -> bool:
    return httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200


def kinds(c: SSEClient, log: str | None = None) -> list[str]:
    return [n["kind"] for n in c.notices() if log is None or n["log"] == log]


async def test_unreadable_directory_is_reported_then_followed_again(shared_dir: Path, run_server: Run) -> None:
    """The log's directory loses its permissions: `unreadable` notice; when they come back (`appeared`) the
    lines written meanwhile arrive, each exactly once. Regression: the follower closed the file and, once
    the path was readable again, read it from its first line, delivering every line twice."""
    logs = shared_dir / "logs"
    logs.mkdir(mode=0o755)
    log = logs / "app.log"
    append(log, ["line 1"])
    log.chmod(0o644)
    server = run_server(unprivileged_server([str(log)]))
    try:
        async with SSEClient(f"{server.url}/api/logs/app.log/stream?backlog=10") as c:
            await c.wait_lines(1)
            logs.chmod(0o000)
            await c.wait(lambda: "unreadable" in kinds(c), 10, "an unreadable notice")
            append(log, ["line 2", "line 3"])
            logs.chmod(0o755)
            await c.wait_lines(3)
            append(log, ["line 4"])
            await c.wait_lines(4)
            await c.wait(lambda: "appeared" in kinds(c), 10, "an appeared notice")
            assert c.lines() == ["line 1", "line 2", "line 3", "line 4"]
            assert kinds(c) == ["unreadable", "appeared"]
    finally:
        logs.chmod(0o755)


async def test_rotated_to_unreadable_file_is_reported_then_read_when_readable(shared_dir: Path,
                                                                             run_server: Run) -> None:
    """logrotate creates the new file unreadable to logtail: `rotated`, `unreadable`; after chmod the new
    file is read from its first line (`appeared`). (The renamed file is let go 0.2 s after its last write,
    not 5 s: `rotated` comes sooner.)"""
    log = shared_dir / "app.log"
    append(log, ["old 1"])
    log.chmod(0o644)
    server = run_server(unprivileged_server([str(log)], env={"LOGTAIL_ROTATE_WAIT": "0.2"}))
    async with SSEClient(f"{server.url}/api/logs/app.log/stream?backlog=10") as c:
        await c.wait_lines(1)
        log.rename(shared_dir / "app.log.1")
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o000)
        os.write(fd, b"new 1\nnew 2\n")
        os.close(fd)
        await c.wait(lambda: "unreadable" in kinds(c), 10, "an unreadable notice")
        log.chmod(0o644)
        await c.wait_lines(3)
        append(log, ["new 3"])
        await c.wait_lines(4)
        assert c.lines() == ["old 1", "new 1", "new 2", "new 3"]
        assert kinds(c) == ["rotated", "unreadable", "appeared"]


async def test_log_directory_removed_and_recreated(tmp_path: Path, run_server: Run) -> None:
    """The whole directory goes away (`missing`) and comes back (`appeared`): lines after recreation arrive."""
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "app.log"
    append(log, ["before"])
    server = run_server(LogtailServer([str(log)]))
    async with SSEClient(f"{server.url}/api/logs/app.log/stream?backlog=10") as c:
        await c.wait_lines(1)
        shutil.rmtree(logs)
        await c.wait(lambda: "missing" in kinds(c), 10, "a missing notice")
        logs.mkdir()
        append(log, ["after 1", "after 2"])
        await c.wait_lines(3)
        append(log, ["after 3"])
        await c.wait_lines(4)
        assert c.lines() == ["before", "after 1", "after 2", "after 3"]
        assert kinds(c) == ["missing", "appeared"]


async def test_300_files_none_starved_by_a_busy_one(tmp_path: Path, run_server: Run) -> None:
    """300 files under one glob while one file is written continuously: every file's new line arrives
    within a deadline."""
    logs = tmp_path / "logs"
    logs.mkdir()
    names = [f"f{i:03}.log" for i in range(300)]
    for name in names:
        (logs / name).touch()
    busy = logs / "busy.log"
    busy.touch()
    server = run_server(LogtailServer([str(logs / "*.log"), "--backlog", "0"]))
    stop = threading.Event()

    def write_busy() -> None:
        n = 0
        with busy.open("a") as f:
            while not stop.is_set() and n < 5_000_000:
                f.write("".join(f"busy {n + i} {'y' * 150}\n" for i in range(200)))
                f.flush()
                n += 200

    writer = threading.Thread(target=write_busy)
    try:
        halves = [names[:150], names[150:]]
        urls = [f"{server.url}/api/stream?backlog=0&" + "&".join(f"log={n}" for n in half) for half in halves]
        async with SSEClient(urls[0]) as c1, SSEClient(urls[1]) as c2, \
                SSEClient(f"{server.url}/api/logs/busy.log/stream?backlog=0") as cb:
            writer.start()
            await cb.wait_lines(1000, 10)
            t0 = time.monotonic()
            for name in names:
                append(logs / name, [f"ping {name}"])
            await c1.wait(lambda: len(c1.lines()) >= 150 and len(c2.lines()) >= 150, 10,
                          "one line from each of the 300 files")
            elapsed = time.monotonic() - t0
            assert sorted(c1.lines() + c2.lines()) == sorted(f"ping {n}" for n in names)
            assert elapsed < 5, f"the 300 quiet files took {elapsed:.1f}s next to the busy one"
            got = cb.lines()
            assert got == [f"busy {i} {'y' * 150}" for i in range(len(got))]  # the busy one is complete too
    finally:
        stop.set()
        if writer.is_alive():
            writer.join(10)
        server.stop()


@pytest.mark.slow
async def test_gigabyte_growth_with_a_rare_filter_keeps_memory_flat(tmp_path: Path, run_server: Run) -> None:
    """~1 GB appended in big blocks while a client watches with a filter matching 1 line in 5000: every match
    arrives and the server's RSS stays within baseline + 100 MB."""
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "big.log"
    log.touch()
    server = run_server(LogtailServer([str(log), "--backlog", "0"]))
    try:
        assert server.proc is not None
        pid = server.proc.pid
        rss0, peak = rss_kb(pid), 0
        filler = "z" * 1000
        block = "".join(f"{filler} {i}\n" for i in range(4999)).encode()  # ~5 MB of lines that do not match
        blocks = 200
        async with SSEClient(f"{server.url}/api/logs/big.log/stream?q=NEEDLE") as c:
            with log.open("ab") as f:
                for n in range(blocks):
                    f.write(block + f"NEEDLE {n}\n".encode())
                    f.flush()
                    peak = max(peak, rss_kb(pid))
                    if n % 20 == 19:  # let the server keep up, as a real writer's pace would
                        await c.wait_lines(n + 1, 60)
            await c.wait_lines(blocks, 120)
            peak = max(peak, rss_kb(pid))
            assert c.lines() == [f"NEEDLE {n}" for n in range(blocks)]
            assert log.stat().st_size > 1_000_000_000
        assert peak - rss0 < 100_000, f"server RSS grew by {(peak - rss0) // 1024} MB while following 1 GB"
    finally:
        log.unlink(missing_ok=True)


async def test_100mb_line_without_newline_is_cut_and_the_next_line_intact(tmp_path: Path, run_server: Run) -> None:
    """100 MB with no newline, then its newline and a normal line: RSS stays bounded, the long line arrives
    cut to --max-line-bytes and flagged, the next line intact."""
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "app.log"
    log.touch()
    server = run_server(LogtailServer([str(log), "--backlog", "0"]))
    assert server.proc is not None
    pid = server.proc.pid
    rss0, peak = rss_kb(pid), 0
    async with SSEClient(f"{server.url}/api/logs/app.log/stream") as c:
        with log.open("ab") as f:
            for _ in range(100):
                f.write(b"L" * 1_000_000)
                f.flush()
                peak = max(peak, rss_kb(pid))
            f.write(b"\nnext line\n")
        await c.wait_lines(2, 30)
        peak = max(peak, rss_kb(pid))
        long_line = next(ev for ev in c.events if ev.get("event") == "line")
        data = json.loads(long_line["data"])
        assert data["text"] == "L" * 65536 and data["truncated"] is True
        assert c.lines()[1] == "next line"
        assert "truncated" not in json.loads([ev for ev in c.events if ev.get("event") == "line"][1]["data"])
    assert peak - rss0 < 50_000, f"server RSS grew by {(peak - rss0) // 1024} MB for a 100 MB line"


@pytest.mark.slow
async def test_atomic_replace_20_times_a_second(tmp_path: Path, run_server: Run) -> None:
    """The file is replaced (write temp + rename) 20 times a second for 3 s: the client sees whole versions in
    order, `rotated` notices, and ends with the last content; the server stays healthy."""
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "state.log"
    log.write_text("v0 a\nv0 b\nv0 c\n")
    server = run_server(LogtailServer([str(log), "--backlog", "10"]))
    versions = 60
    async with SSEClient(f"{server.url}/api/logs/state.log/stream") as c:
        await c.wait_lines(3)
        for v in range(1, versions + 1):
            tmp = logs / "state.log.tmp"
            tmp.write_text(f"v{v} a\nv{v} b\nv{v} c\n")
            tmp.rename(log)
            await asyncio.sleep(0.05)
        last = [f"v{versions} a", f"v{versions} b", f"v{versions} c"]
        await c.wait(lambda: c.lines()[-3:] == last, 10, "the last version")
        got = c.lines()
        assert len(got) % 3 == 0
        seen = [int(got[i].split()[0][1:]) for i in range(0, len(got), 3)]
        for i, v in enumerate(seen):
            assert got[3 * i:3 * i + 3] == [f"v{v} a", f"v{v} b", f"v{v} c"], "a version cut or mixed"
        assert seen == sorted(set(seen)), "a version repeated or out of order"
        assert "rotated" in kinds(c) and set(kinds(c)) <= {"rotated", "missing", "appeared"}
    assert healthy(server)
    assert "Traceback" not in server.output()


@pytest.mark.parametrize("intruder", ["directory", "fifo"])
async def test_failing_follower_reports_and_others_keep_streaming(
        tmp_path: Path, intruder: str, run_server: Run) -> None:
    """a.log's path becomes a directory or a FIFO: a notice for a.log, b.log keeps streaming, and a.log
    recovers once it is a file again."""
    logs = tmp_path / "logs"
    logs.mkdir()
    a, b = logs / "a.log", logs / "b.log"
    append(a, ["a 1"])
    append(b, ["b 1"])
    server = run_server(LogtailServer([str(a), str(b), "--backlog", "10"]))
    async with SSEClient(f"{server.url}/api/stream?log=a.log&log=b.log") as c:
        await c.wait_lines(2)
        a.unlink()
        if intruder == "directory":
            a.mkdir()
        else:
            os.mkfifo(a)
        await c.wait(lambda: "unreadable" in kinds(c, "a.log"), 10, "a notice for a.log")
        for i in range(2, 12):
            append(b, [f"b {i}"])
            await c.wait_lines(i, 5, log="b.log")
        assert c.lines("b.log") == [f"b {i}" for i in range(1, 12)]
        assert healthy(server)
        if intruder == "directory":
            a.rmdir()
        else:
            a.unlink()
        append(a, ["a 2"])
        await c.wait_lines(2, 15, log="a.log")
        assert c.lines("a.log") == ["a 1", "a 2"]
