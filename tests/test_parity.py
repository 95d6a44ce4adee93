"""Every feature against every source: the same test bodies run for a local file, a shipped one, a journal
unit and a shipped journal unit.

Each test is one cell of the parity table in docs/architecture.md ("Sources and what each does"). The
`log` fixture yields, for each source, a writer and the name a client uses: a file served by `serve`, or the
same kind of file shipped by `logtail ship` as host `web1` through a real redis-server to a `serve --redis`
node; a unit of a real journal file (systemd-journal-remote, tests/journal_support.py) served by `serve
journal:app.service`, or shipped the same way. Where the data is out of reach (another host's rotated files,
a journal's) the test pins what the client gets instead: a 4xx that says why, never an empty 200.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.journal_support import JournalWriter
from tests.redis_support import RedisServer, Shipper
from tests.support import LogtailServer, wait_for

StartServer = Callable[..., LogtailServer]
StartShipper = Callable[..., Shipper]
NODE_ARGS = ("--window-lines", "20", "--backlog", "0")  # a small window: a resume from far back reads the source


@dataclass
class LogUnderTest:
    kind: str  # "file", "redis" (a shipped file), "journal" or "journal-redis" (a shipped journal unit)
    name: str
    path: Path
    node: LogtailServer
    journal: JournalWriter | None = None  # the journal kinds' writer (entries of unit app.service, now)

    @property
    def shipped(self) -> bool:
        return self.kind.endswith("redis")

    @property
    def url(self) -> str:
        return f"{self.node.url}/api/logs/{self.name}"

    def write(self, *lines: str) -> None:
        if self.journal is not None:
            self.journal.send(b"".join(self.journal.entry(line, realtime=time.time()) for line in lines))
            return
        with self.path.open("a") as f:
            f.write("".join(line + "\n" for line in lines))

    def read_all(self, count: int) -> list[dict[str, object]]:
        """Wait until the node holds `count` lines of the log; the NDJSON rows of its window."""
        def rows() -> list[dict[str, object]] | None:
            found = ndjson(f"{self.url}/stream?format=ndjson&backlog={count}", count, within=2)
            return found if len(found) >= count else None
        return wait_for(rows, 30, 0.2, f"{count} lines of {self.name} on the node")


@pytest.fixture(params=["file", "redis", "journal", "journal-redis"])
def log(request: pytest.FixtureRequest, tmp_path: Path, start_server: StartServer,
        start_shipper: StartShipper) -> Iterator[LogUnderTest]:
    path = tmp_path / "app.log"
    path.write_text("")
    journal = JournalWriter(tmp_path / "journal").open() if request.param.startswith("journal") else None
    try:
        yield _log_under_test(request, path, journal, start_server, start_shipper)
    finally:
        if journal is not None:
            journal.close()


def _log_under_test(request: pytest.FixtureRequest, path: Path, journal: JournalWriter | None,
                    start_server: StartServer, start_shipper: StartShipper) -> LogUnderTest:
    kind: str = request.param
    source = _source_args(path, journal)
    name = "app.log" if journal is None else "app.service"
    if not kind.endswith("redis"):
        return LogUnderTest(kind, name, path, start_server(*source, *NODE_ARGS), journal)
    redis: RedisServer = request.getfixturevalue("redis_server")
    start_shipper(*source, "--host-name", "web1", "--redis", redis.url)
    node = start_server("--redis", redis.url, *NODE_ARGS)
    wait_listed(node, f"{name}@web1")
    return LogUnderTest(kind, f"{name}@web1", path, node, journal)


def wait_listed(node: LogtailServer, name: str) -> None:
    """Until a node has found a shipped log in Redis (before that, a stream of it is an unknown log's 404)."""
    wait_for(lambda: any(x["name"] == name for x in httpx.get(f"{node.url}/api/logs").json()), 30, 0.1,
             f"{name} listed")


def ndjson(url: str, count: int, within: float = 15, headers: dict[str, str] | None = None,
           last: str | None = None) -> list[dict[str, object]]:
    """At most `count` rows of an NDJSON stream, read for at most `within` seconds, or up to the line `last`."""
    async def read() -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None)) as client, \
                client.stream("GET", url, headers=headers) as response:
            assert response.status_code == 200, await response.aread()
            try:
                async with asyncio.timeout(within):
                    async for line in response.aiter_lines():
                        out.append(json.loads(line))
                        if len(out) == count or (last is not None and out[-1].get("text") == last):
                            break
            except TimeoutError:
                pass
        return out
    return asyncio.run(read())


def texts(rows: list[dict[str, object]]) -> list[object]:
    return [row["text"] for row in rows if "text" in row]


def test_backlog(log: LogUnderTest) -> None:
    log.write(*(f"line {i}" for i in range(5)))
    log.read_all(5)
    assert texts(ndjson(f"{log.url}/stream?format=ndjson&backlog=2", 2)) == ["line 3", "line 4"]


def test_resume_from_an_id_in_the_window(log: LogUnderTest) -> None:
    log.write(*(f"line {i}" for i in range(5)))
    rows = log.read_all(5)
    log.write("line 5", "line 6")
    log.read_all(7)
    resumed = ndjson(f"{log.url}/stream?format=ndjson&last_event_id={rows[2]['id']}", 4)
    assert texts(resumed) == ["line 3", "line 4", "line 5", "line 6"]


def test_catch_up_from_the_source_beyond_the_window(log: LogUnderTest) -> None:
    """The window holds 20 lines: a resume 100 lines back is read back from the file or the Redis stream."""
    log.write(*(f"old {i}" for i in range(5)))
    first = log.read_all(5)
    log.write(*(f"new {i}" for i in range(100)))
    log.read_all(20)
    wait_for(lambda: texts(ndjson(f"{log.url}/stream?format=ndjson&backlog=1", 1, within=2)) == ["new 99"],
             30, 0.2, "the last line on the node")
    resumed = ndjson(f"{log.url}/stream?format=ndjson&last_event_id={first[4]['id']}", 100)
    assert texts(resumed) == [f"new {i}" for i in range(100)]


def test_resume_max_bytes_bounds_a_read_back(log: LogUnderTest, start_server: StartServer) -> None:
    """A resume from far behind reads back at most --resume-max-bytes (the newest), after a `gap` notice."""
    log.write("first")
    first = log.read_all(1)
    log.write(*(f"line {i:04d}" for i in range(1000)))  # 10 bytes + newline each
    wait_for(lambda: texts(ndjson(f"{log.url}/stream?format=ndjson&backlog=1", 1, within=2)) == ["line 0999"],
             30, 0.2, "the last line on the node")
    node = start_server(*_args_of(log), "--resume-max-bytes", "1100")
    if log.shipped:
        wait_listed(node, log.name)
        wait_for(lambda: texts(ndjson(f"{node.url}/api/logs/{log.name}/stream?format=ndjson&backlog=1", 1,
                                      within=2)) == ["line 0999"], 30, 0.2, "the last line on the new node")
    # A line written now ends the read: the stream is read up to it, not for a fixed time, and a repeat
    # before it would still show.
    log.write("the end")
    rows = ndjson(f"{node.url}/api/logs/{log.name}/stream?format=ndjson&last_event_id={first[0]['id']}", 200,
                  last="the end")
    assert rows[0].get("kind") == "gap", rows[:2]
    got = texts(rows)
    assert got[-1] == "the end", got[-2:]
    got = got[:-1]
    assert 50 <= len(got) <= 150 and got[-1] == "line 0999", (len(got), got[:2], got[-2:])  # ~1100 bytes, not 11,000
    assert got == [f"line {i:04d}" for i in range(1000 - len(got), 1000)]


def _args_of(log: LogUnderTest) -> list[str]:
    if log.shipped:
        return list(log.node.args[log.node.args.index("--redis"):])
    return [*_source_args(log.path, log.journal), *NODE_ARGS]


def _source_args(path: Path, journal: JournalWriter | None) -> list[str]:
    return [str(path)] if journal is None else ["journal:app.service", "--journal-directory", str(journal.directory)]


def test_since(log: LogUnderTest) -> None:
    """`since=` starts at the first line written at or after the moment (a file by the lines' times, a
    journal by its entries', a shipped log by when Redis stored them), then goes on live."""
    log.write("2020-01-01T00:00:00Z old 1", "2020-01-01T00:00:01Z old 2")
    log.read_all(2)
    time.sleep(1.1)  # the moment must fall between what Redis stored (ms ids) and what comes next
    moment = datetime.now(UTC)
    time.sleep(0.1)
    log.write(*(f"{datetime.now(UTC).isoformat()} new {i}" for i in range(3)))
    log.read_all(5)
    rows = ndjson(f"{log.url}/stream?format=ndjson&since={moment.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}", 3)
    assert [str(t).split(" ", 1)[1] for t in texts(rows)] == ["new 0", "new 1", "new 2"]


def test_since_before_everything_replays_what_is_retained(log: LogUnderTest) -> None:
    log.write(*(f"{datetime.now(UTC).isoformat()} line {i}" for i in range(3)))
    log.read_all(3)
    rows = ndjson(f"{log.url}/stream?format=ndjson&since=1d", 3)
    assert [str(t).split(" ", 1)[1] for t in texts(rows)] == ["line 0", "line 1", "line 2"]


def test_filters_with_fields(log: LogUnderTest) -> None:
    log.write(*(json.dumps({"status": s, "msg": f"req {i}"}) for i, s in enumerate([200, 503, 404, 500])))
    log.read_all(4)
    rows = ndjson(f"{log.url}/stream?format=ndjson&backlog=10&field=status%3E%3D500", 2)
    assert [json.loads(str(t))["msg"] for t in texts(rows)] == ["req 1", "req 3"]
    rows = ndjson(f"{log.url}/stream?format=ndjson&backlog=10&q=req&invert=1&level=error", 1, within=1)
    assert rows == []


def test_search(log: LogUnderTest) -> None:
    log.write("INFO up", "ERROR one", "INFO between", "ERROR two")
    log.read_all(4)
    found = [json.loads(line) for line in httpx.get(f"{log.url}/search?q=ERROR", timeout=30).text.splitlines()]
    hits = [row["text"] for row in found if "text" in row]
    assert hits == ["ERROR two", "ERROR one"]  # newest first
    assert found[-1]["event"] == "done" and found[-1]["matches"] == 2, found[-1]


def test_download(log: LogUnderTest) -> None:
    log.write("one", "two", "three")
    log.read_all(3)
    response = httpx.get(f"{log.url}/download", timeout=30)
    assert response.status_code == 200
    assert response.text.splitlines()[-3:] == ["one", "two", "three"]


def test_rotated_files(log: LogUnderTest) -> None:
    """A file's rotated siblings are listed; a shipped log's stay on its host, and a journal has none (its
    download and search cover all it retains): a 404 that says so."""
    log.write("current")
    log.read_all(1)
    (log.path.parent / "app.log.1").write_text("rotated\n")
    response = httpx.get(f"{log.url}/rotated", timeout=30)
    download = httpx.get(f"{log.url}/download?rotated=1", timeout=30)
    if log.kind == "file":
        assert response.status_code == 200
        assert [x["name"] for x in response.json()] == ["app.log.1"]
        return
    why = "stay on host 'web1'" if log.shipped else "is a journal log: it has no rotated files"
    assert response.status_code == 404 and why in response.json()["detail"]
    assert download.status_code == 404 and why in download.json()["detail"]


def test_size_and_liveness(log: LogUnderTest) -> None:
    log.write(*(f"line {i}" for i in range(15)))
    log.read_all(15)
    info = httpx.get(log.url, timeout=30).json()
    assert info["name"] == log.name
    assert info["exists"] is True
    if log.kind == "journal":  # journalctl does not tell a unit's size: 0, and the time of its last entry
        assert info["size"] == 0
    else:
        assert info["size"] > 0
    assert info["mtime"] is not None and abs(info["mtime"] - time.time()) < 60


@pytest.mark.parametrize("log", ["file", "redis"], indirect=True)
def test_notices(log: LogUnderTest) -> None:
    """A truncation reaches a shipped log's readers as it reaches a file's. (A journal is not truncated: a
    position it vacuumed away is a `gap`, test_journal.py.)"""
    log.write(*(f"line {i}" for i in range(3)))
    log.read_all(3)

    async def watch() -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None)) as client, \
                client.stream("GET", f"{log.url}/stream?format=ndjson&backlog=0") as response:
            await asyncio.sleep(0.5)
            log.path.write_text("after\n")
            async with asyncio.timeout(20):
                async for line in response.aiter_lines():
                    out.append(json.loads(line))
                    if texts(out):
                        return out
        return out

    rows = asyncio.run(watch())
    assert [row.get("kind") for row in rows if "kind" in row] == ["truncated"]
    assert texts(rows) == ["after"]
