"""Issue 21, findings 3 and 4: which files a reader may open (logtail/sources/files/opening.py).

A FIFO named `NAME.1` froze the server: read-back opened rotated siblings with a blocking `open()` on the
event loop, and `since=` parked worker threads the same way. A symlinked `NAME.1` to a file elsewhere was
read by resume and `since=` although history skips it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from logtail.sources.files.opening import NotRegularFile, open_regular
from logtail.sources.files.readback import open_sibling, open_whole
from tests.streams import SSEClient, append, async_wait_for
from tests.support import LogtailServer, wait_for

SECRET = "TOP-SECRET-CONTENT"


def test_open_regular_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "app.log.1"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    with pytest.raises(NotRegularFile):
        open_regular(fifo)
    assert time.monotonic() - t0 < 1.0
    assert open_whole(fifo) is None and open_sibling(tmp_path / "app.log", 1) is None
    with pytest.raises(NotRegularFile):
        open_regular(tmp_path)  # a directory is no file either


def test_a_symlinked_sibling_is_not_opened_but_a_symlinked_log_is(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text(f"{SECRET}\n")
    (tmp_path / "app.log.1").symlink_to(target)
    (tmp_path / "current").symlink_to(target)  # operators point logtail at `current` links
    assert open_sibling(tmp_path / "app.log", 1) is None
    rb = open_whole(tmp_path / "current")
    assert rb is not None
    os.close(rb.fd)


def test_a_confined_open_follows_a_link_only_inside_its_directory(tmp_path: Path) -> None:
    """A glob match is opened confined to its directory: a link to a file inside is followed, one to a file
    elsewhere is refused (PermissionError) and a dangling one is missing, whatever it pointed at before."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "real.txt").write_text("inside\n")
    (tmp_path / "secret").write_text(f"{SECRET}\n")
    (logs / "app.log").symlink_to(logs / "real.txt")
    fd, _ = open_regular(logs / "app.log", inside=logs)
    assert os.pread(fd, 100, 0) == b"inside\n"
    os.close(fd)
    (logs / "app.log").unlink()
    (logs / "app.log").symlink_to(tmp_path / "secret")
    with pytest.raises(PermissionError):
        open_regular(logs / "app.log", inside=logs)
    fd, _ = open_regular(logs / "app.log")  # a configured path is followed wherever it points
    os.close(fd)
    (logs / "app.log").unlink()
    (logs / "app.log").symlink_to(logs / "gone.txt")
    with pytest.raises(FileNotFoundError):
        open_regular(logs / "app.log", inside=logs)


@pytest.fixture
def server(tmp_path: Path, start_server: Callable[..., LogtailServer]) -> LogtailServer:
    log = tmp_path / "app.log"
    append(log, [f"2026-01-01T00:00:0{i}Z line {i}" for i in range(5)])
    os.mkfifo(tmp_path / "app.log.1")
    return start_server(str(log), "--window-lines", "2")


async def slowest_healthz(server: LogtailServer, requests: list[httpx.Request]) -> tuple[float, list[int]]:
    """Send `requests` at once (reading only their status) and probe `/healthz` meanwhile."""
    statuses: list[int] = []
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None)) as client:
        async def one(request: httpx.Request) -> None:
            response = await client.send(request, stream=True)
            statuses.append(response.status_code)
            await response.aclose()

        task = asyncio.gather(*(one(r) for r in requests))
        worst = 0.0
        for _ in range(10):
            t0 = time.monotonic()
            assert (await client.get(f"{server.url}/healthz", timeout=5)).status_code == 200
            worst = max(worst, time.monotonic() - t0)
            await asyncio.sleep(0.05)
        await asyncio.wait_for(task, 10)
    return worst, statuses


async def test_a_fifo_sibling_freezes_neither_resume_nor_since(server: LogtailServer) -> None:
    """A reconnect whose position is in no file walks the siblings (the FIFO `app.log.1` first); eight
    `since=` requests walk them too: `/healthz` stays fast and every stream opens."""
    url = f"{server.url}/api/logs/app.log/stream"
    requests = [httpx.Request("GET", url, headers={"Last-Event-ID": "app.log=000000000000:5"}),
                *(httpx.Request("GET", url, params={"since": "2025-12-31T00:00:00Z"}) for _ in range(8))]
    worst, statuses = await slowest_healthz(server, requests)
    assert worst < 0.5, f"/healthz took {worst:.2f}s"
    assert statuses == [200] * len(requests)
    assert "not a regular file" in server.output()


def test_a_glob_does_not_follow_a_symlink_out_of_its_directory(
        tmp_path: Path, start_server: Callable[..., LogtailServer]) -> None:
    """A symlink created in a watched glob directory to a file elsewhere is never listed nor served; one to a
    file in the same directory is followed like the file."""
    logs, elsewhere = tmp_path / "logs", tmp_path / "elsewhere"
    logs.mkdir()
    elsewhere.mkdir()
    append(logs / "a.log", ["a"])
    server = start_server(str(logs / "*.log"), "--poll-interval", "0.2")
    wait_for(lambda: "a.log" in names(server), what="a.log listed")
    (elsewhere / "secret").write_text(f"{SECRET}\n")
    (elsewhere / "secret").chmod(0o600)
    append(logs / "real.txt", ["inside"])
    (logs / "evil.log").symlink_to(elsewhere / "secret")
    (logs / "inside.log").symlink_to(logs / "real.txt")
    wait_for(lambda: "inside.log" in names(server), what="inside.log listed")
    assert "evil.log" not in names(server)
    assert httpx.get(f"{server.url}/api/logs/evil.log/download", timeout=5).status_code == 404
    assert "outside" in server.output() and SECRET not in server.output()


def names(server: LogtailServer) -> set[str]:
    return {x["name"] for x in httpx.get(f"{server.url}/api/logs", timeout=5).json()}


def repoint(link: Path, target: Path) -> None:
    """`ln -sfn target link`, atomically (as deploy scripts re-point a `current` link)."""
    new = link.with_name(link.name + ".new")
    new.symlink_to(target)
    os.replace(new, link)


async def test_a_glob_link_repointed_outside_stops_being_read(
        tmp_path: Path, start_server: Callable[..., LogtailServer]) -> None:
    """A link in a watched glob directory, listed while it pointed inside, then re-pointed to another file
    inside (followed, as a rotation) and then to a 0600 file elsewhere: from then on no reader serves the
    outside file (follow, download, search, `since=`, resume), until it points inside again."""
    logs, elsewhere = tmp_path / "logs", tmp_path / "elsewhere"
    logs.mkdir()
    elsewhere.mkdir()
    for name in ("one", "two", "three"):
        append(logs / f"{name}.txt", [f"inside {name}"])
    append(elsewhere / "secret", [f"{SECRET} 1"])
    (elsewhere / "secret").chmod(0o600)
    (logs / "app.log").symlink_to(logs / "one.txt")
    server = start_server(str(logs / "*.log"), "--poll-interval", "0.2", "--rotate-wait", "0.2")
    wait_for(lambda: "app.log" in names(server), what="app.log listed")
    base = f"{server.url}/api/logs/app.log"
    async with SSEClient(f"{base}/stream?backlog=10") as live:
        await async_wait_for(lambda: ("app.log", "inside one") in live.received, what="the first target")
        first_id = next(e["id"] for e in live.events if "inside one" in e.get("data", ""))
        repoint(logs / "app.log", logs / "two.txt")
        await async_wait_for(lambda: ("app.log", "inside two") in live.received, what="a target inside")
        repoint(logs / "app.log", elsewhere / "secret")
        await async_wait_for(lambda: "outside" in server.output() or SECRET in live.raw.decode(errors="replace"),
                             what="the follower refusing the target, or reading it")
        assert SECRET not in live.raw.decode(errors="replace")
        append(elsewhere / "secret", [f"{SECRET} 2"])
        async with httpx.AsyncClient(timeout=10) as client:
            download = await client.get(f"{base}/download")
            search = await client.get(f"{base}/search", params={"q": SECRET})
        assert download.status_code == 403 and SECRET not in download.text
        assert SECRET not in search.text
        async with SSEClient(f"{base}/stream?since=2000-01-01T00:00:00Z") as since, \
                SSEClient(f"{base}/stream", headers={"Last-Event-ID": first_id}) as resumed:
            repoint(logs / "app.log", logs / "three.txt")
            for stream in (live, since, resumed):
                await async_wait_for(lambda s=stream: ("app.log", "inside three") in s.received,  # type: ignore[misc]
                                     what="the link back inside")
                assert SECRET not in stream.raw.decode(errors="replace")


async def test_since_and_resume_do_not_follow_a_symlinked_sibling(
        tmp_path: Path, start_server: Callable[..., LogtailServer]) -> None:
    """`since=` and resume followed a symlinked `NAME.1` (to a 0600 file elsewhere) that history skips: the
    stream from a moment before the secret's lines, and a resume from a position in no file, both start at
    the current file."""
    log, secret = tmp_path / "logs" / "app.log", tmp_path / "secret"
    log.parent.mkdir()
    append(log, ["2026-01-01T00:00:05Z current"])
    secret.write_text(f"2026-01-01T00:00:01Z {SECRET}\n")
    secret.chmod(0o600)
    (tmp_path / "logs" / "app.log.1").symlink_to(secret)
    server = start_server(str(log), "--window-lines", "1")
    url = f"{server.url}/api/logs/app.log/stream"
    async with SSEClient(f"{url}?since=2025-12-31T00:00:00Z") as since, \
            SSEClient(url, headers={"Last-Event-ID": "app.log=000000000000:5"}) as resumed:
        for stream in (since, resumed):
            await async_wait_for(lambda s=stream: ("app.log", "2026-01-01T00:00:05Z current") in s.received,  # type: ignore[misc]
                                 what="the current file's line")
            assert SECRET not in stream.raw.decode(errors="replace")
