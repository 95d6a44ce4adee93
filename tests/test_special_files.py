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
from tests.streams import append
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
