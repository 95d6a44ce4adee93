"""The service end to end: a real `logtail serve` process on a free port, read by httpx.AsyncClient."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.sse_client import decode_events
from tests.streams import append
from tests.support import EventReader, LogtailServer, wait_for

Start = Callable[..., LogtailServer]


OLD_LINES = "".join(f"old {i}\n" for i in range(30))


@pytest.fixture
def app_log(tmp_path: Path) -> Path:
    path = tmp_path / "app.log"
    path.write_text(OLD_LINES)
    return path


@pytest.fixture(scope="module")
def shared_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    logs = tmp_path_factory.mktemp("shared")
    (logs / "app.log").write_text(OLD_LINES)
    (logs / "f.log").write_text("")
    return logs


@pytest.fixture(scope="module")
def server(shared_logs: Path) -> Iterator[LogtailServer]:
    """One server for the tests that only read app.log (written as `app_log` writes it) or read f.log from its
    end (backlog=0) while appending to it: a server of their own would cost more than the tests."""
    server = LogtailServer([str(shared_logs / "app.log"), str(shared_logs / "f.log")]).start(shared_logs)
    try:
        yield server
    finally:
        server.stop()


async def test_health_and_log_list(start_server: Start, app_log: Path, tmp_path: Path) -> None:
    server = start_server(str(app_log), f"other={tmp_path / 'missing.log'}")
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        logs = {x["name"]: x for x in (await client.get("/api/logs")).json()}
    assert logs["app.log"]["exists"] is True and logs["app.log"]["size"] == app_log.stat().st_size
    assert logs["app.log"]["path"] == str(app_log)
    assert logs["other"]["exists"] is False and logs["other"]["size"] == 0


async def test_stream_sends_backlog_then_live_lines_with_sse_headers(start_server: Start, app_log: Path) -> None:
    server = start_server(str(app_log))
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client, \
            client.stream("GET", "/api/logs/app.log/stream?backlog=3") as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert resp.headers["cache-control"] == "no-cache"
        assert resp.headers["x-accel-buffering"] == "no"
        # set once by the middlewares at the start; the body goes past their send wrappers
        assert (resp.headers["x-frame-options"], resp.headers["referrer-policy"]) == ("DENY", "no-referrer")
        reader = EventReader(resp)
        first = await reader.next_event()
        assert first == {"retry": "2000"}
        assert await reader.texts(3) == ["old 27", "old 28", "old 29"]
        append(app_log, "fresh line\n")
        events = await reader.events(1, kind="line")
        data = json.loads(events[0]["data"])
        assert data["text"] == "fresh line" and data["log"] == "app.log"
        assert events[0]["id"] == data["id"] and data["id"].startswith("app.log=")


async def test_default_backlog_is_10(server: LogtailServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client, \
            client.stream("GET", "/api/logs/app.log/stream") as resp:
        reader = EventReader(resp)
        assert await reader.texts(10) == [f"old {i}" for i in range(20, 30)]


async def test_heartbeat_while_quiet(start_server: Start, app_log: Path) -> None:
    """A quiet stream gets a `: ping` comment every --heartbeat seconds (the default, 15 s, would not arrive
    within the deadline), and no event besides the stream's opening ones."""
    server = start_server(str(app_log), "--heartbeat", "0.2")
    raw = ""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        opened = time.monotonic()
        async with client.stream("GET", "/api/logs/app.log/stream?backlog=0") as resp:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(8):
                    async for chunk in resp.aiter_text():
                        raw += chunk
                        if raw.count(": ping\n\n") >= 3:
                            break
        elapsed = time.monotonic() - opened
    assert raw.count(": ping\n\n") >= 3, f"pings within 8 s at --heartbeat 0.2: {raw!r}"
    # Each ping follows at least 2/3 of a heartbeat of silence (keepalive.tick): three of them cannot come at
    # once, and the request was sent before the first and the third was read after it was sent.
    assert elapsed > 0.3, elapsed
    assert [e for e in decode_events(raw) if e.get("event") is not None] == []  # no line, no notice


async def test_multi_log_stream_on_one_connection(start_server: Start, tmp_path: Path) -> None:
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text("")
    b.write_text("")
    server = start_server(str(a), str(b))
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client, \
            client.stream("GET", "/api/stream?log=a.log&log=b.log") as resp:
        reader = EventReader(resp)
        position = await reader.next_event()  # retry
        position = await reader.next_event()  # the id-only event with both logs' positions
        assert set(position) == {"id"} and "a.log=" in position["id"] and "b.log=" in position["id"]
        append(a, "from a\n")
        append(b, "from b\n")
        got = [json.loads(e["data"]) for e in await reader.events(2, kind="line")]
        assert sorted((g["log"], g["text"]) for g in got) == [("a.log", "from a"), ("b.log", "from b")]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=err", ["err one"]),
        ("q=err&ignore_case=1", ["err one", "ERR two is not", "ERR three"]),
        ("regex=^ERR%2B%20t", ["ERR two is not", "ERR three"]),
        ("q=err&invert=1", ["ERR two is not", "ERR three", "info four", "END"]),
        ("level=error", ["err one", "ERR two is not", "ERR three"]),
        ("level=info,error&q=four", ["info four"]),
    ],
)
async def test_filters_apply_on_the_server(server: LogtailServer, shared_logs: Path, query: str,
                                           expected: list[str]) -> None:
    log = shared_logs / "f.log"
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client, \
            client.stream("GET", f"/api/logs/f.log/stream?backlog=0&format=ndjson&{query}") as resp:
        lines = resp.aiter_lines()
        append(log, "err one\nERR two is not\nERR three\ninfo four\nEND\n")
        got: list[str] = []
        async with asyncio.timeout(5):
            async for line in lines:
                got.append(json.loads(line)["text"])
                if len(got) == len(expected):
                    break
    assert got == expected


async def test_text_and_ndjson_formats(start_server: Start, app_log: Path) -> None:
    server = start_server(str(app_log))
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        async with client.stream("GET", "/api/logs/app.log/stream?backlog=2&format=text") as resp:
            assert resp.headers["content-type"].startswith("text/plain")
            text = ""
            async with asyncio.timeout(5):
                async for chunk in resp.aiter_text():
                    text += chunk
                    if text.count("\n") >= 2:
                        break
            assert text == "old 28\nold 29\n"
        async with client.stream("GET", "/api/logs/app.log/stream?backlog=1&format=ndjson") as resp:
            assert resp.headers["content-type"].startswith("application/x-ndjson")
            async with asyncio.timeout(5):
                line = await resp.aiter_lines().__anext__()
            assert json.loads(line)["text"] == "old 29"


@pytest.mark.parametrize(
    ("url", "status", "needle"),
    [
        ("/api/logs/nope/stream", 404, "unknown log"),
        ("/api/logs/app.log/stream?regex=(unclosed", 400, "invalid regex"),
        ("/api/logs/app.log/stream?backlog=-1", 422, "backlog"),
        ("/api/logs/app.log/stream?backlog=abc", 422, "backlog"),
        ("/api/logs/app.log/stream?format=xml", 422, "format"),
        ("/api/logs/app.log/stream?level=loud", 400, "level"),
        ("/api/stream?log=app.log&log=nope", 404, "unknown log"),
        ("/api/stream", 422, "log"),
    ],
)
async def test_bad_input_gets_a_clear_error(server: LogtailServer, url: str, status: int, needle: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        resp = await client.get(url)
    assert resp.status_code == status
    assert needle in json.dumps(resp.json()["detail"])


async def test_resume_with_last_event_id_gets_exactly_the_missed_lines(start_server: Start, app_log: Path) -> None:
    server = start_server(str(app_log))
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        async with client.stream("GET", "/api/logs/app.log/stream?backlog=5") as resp:
            events = await EventReader(resp).events(5, kind="line")
        last_id = events[2]["id"]  # pretend the client only processed "old 27"
        append(app_log, "new 1\nnew 2\n")
        async with client.stream("GET", "/api/logs/app.log/stream", headers={"Last-Event-ID": last_id}) as resp:
            assert await EventReader(resp).texts(4) == ["old 28", "old 29", "new 1", "new 2"]
        async with client.stream("GET", f"/api/logs/app.log/stream?last_event_id={last_id}&format=ndjson") as resp:
            got = []
            async with asyncio.timeout(5):
                async for line in resp.aiter_lines():
                    got.append(json.loads(line)["text"])
                    if len(got) == 4:
                        break
            assert got == ["old 28", "old 29", "new 1", "new 2"]


async def test_resume_after_truncation_is_a_gap(start_server: Start, app_log: Path) -> None:
    """The position is in neither the window (5 lines) nor the file (rewritten): gap, then the new file."""
    server = start_server(str(app_log), "--window-lines", "5")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        async with client.stream("GET", "/api/logs/app.log/stream?backlog=1") as resp:
            last_id = (await EventReader(resp).events(1, kind="line"))[0]["id"]
        app_log.write_text("rewritten\n" + "".join(f"more {i}\n" for i in range(10)))
        async with client.stream("GET", "/api/logs/app.log/stream?backlog=1&format=ndjson") as resp:
            async with asyncio.timeout(5):
                async for line in resp.aiter_lines():
                    if json.loads(line).get("text") == "more 9":
                        break
        async with client.stream("GET", "/api/logs/app.log/stream", headers={"Last-Event-ID": last_id}) as resp:
            reader = EventReader(resp)
            assert await reader.next_event() == {"retry": "2000"}
            events = await reader.events(2)
    notice = json.loads(events[0]["data"])
    assert events[0]["event"] == "notice" and notice["kind"] == "gap"
    assert json.loads(events[1]["data"])["text"] == "rewritten"


async def test_multi_log_resume(start_server: Start, tmp_path: Path) -> None:
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text("a0\n")
    b.write_text("b0\n")
    server = start_server(str(a), str(b))
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        async with client.stream("GET", "/api/stream?log=a.log&log=b.log&backlog=1") as resp:
            reader = EventReader(resp)
            await reader.events(2, kind="line")
            append(a, "a1\n")
            await reader.events(1, kind="line")
            closing = await reader.next_event()  # the write's id-only event (docs/api.md, the multi-log stream)
            assert set(closing) == {"id"}
            last = closing["id"]
        append(a, "a2\n")
        append(b, "b1\n")
        async with client.stream("GET", "/api/stream?log=a.log&log=b.log", headers={"Last-Event-ID": last}) as resp:
            got = sorted(await EventReader(resp).texts(2))
    assert got == ["a2", "b1"]


@pytest.mark.slow
async def test_glob_discovers_new_files_and_reads_them_from_the_first_line(start_server: Start,
                                                                           tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "one.log").write_text("1\n")
    server = start_server(str(jobs / "*.log"), "--poll-interval", "0.2")
    (jobs / "two.log").write_text("first\nsecond\n")

    def listed() -> bool:
        return "two.log" in [x["name"] for x in httpx.get(f"{server.url}/api/logs").json()]

    wait_for(listed, 5, what="two.log in /api/logs")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client, \
            client.stream("GET", "/api/logs/two.log/stream?backlog=10") as resp:
        assert await EventReader(resp).texts(2) == ["first", "second"]


@pytest.mark.parametrize("watcher", ["inotify", "watchfiles", "poll"])
async def test_every_watcher_backend_delivers(start_server: Start, app_log: Path, watcher: str) -> None:
    server = start_server(str(app_log), "--watcher", watcher, "--poll-interval", "0.3")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client, \
            client.stream("GET", "/api/logs/app.log/stream?backlog=0") as resp:
        reader = EventReader(resp)
        await reader.next_event()
        await reader.next_event()  # position
        append(app_log, f"via {watcher}\n")
        assert await reader.texts(1) == [f"via {watcher}"]


@pytest.mark.slow
async def test_burst_of_200000_lines_reaches_a_client_complete_and_in_order(start_server: Start,
                                                                            tmp_path: Path) -> None:
    log = tmp_path / "burst.log"
    log.write_text("")
    server = start_server(str(log))
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client, \
            client.stream("GET", "/api/logs/burst.log/stream?backlog=0&format=text") as resp:
        with log.open("a") as f:
            for start in range(0, 200_000, 10_000):
                f.write("".join(f"{i}\n" for i in range(start, start + 10_000)))
                f.flush()
        got: list[int] = []
        async with asyncio.timeout(60):
            async for line in resp.aiter_lines():
                got.append(int(line))
                if len(got) == 200_000:
                    break
    assert got == list(range(200_000))


async def test_metrics(start_server: Start, app_log: Path) -> None:
    server = start_server(str(app_log))
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        async with client.stream("GET", "/api/logs/app.log/stream?backlog=0") as resp:
            reader = EventReader(resp)
            await reader.next_event()
            text = (await client.get("/metrics")).text
            assert "logtail_clients 1.0" in text
            append(app_log, "counted\n")
            await reader.events(1, kind="line")
            text = (await client.get("/metrics")).text
        assert 'logtail_lines_read_total{log="app.log"}' in text
        assert 'logtail_lines_sent_total{log="app.log"} 1.0' in text
        assert 'logtail_lines_dropped_total{log="app.log"} 0.0' in text

        def gauge_zero() -> bool:
            return "logtail_clients 0.0" in httpx.get(f"{server.url}/metrics").text

        wait_for(gauge_zero, 5, what="gauge back to 0 after disconnect")


async def test_dashboard_page_and_openapi(server: LogtailServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        page = await client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        schema = (await client.get("/openapi.json")).json()
    paths = schema["paths"]
    for path in ("/healthz", "/api/logs", "/api/logs/{name}/stream", "/api/stream", "/metrics"):
        assert path in paths
    params = {p["name"] for p in paths["/api/logs/{name}/stream"]["get"]["parameters"]}
    assert {"backlog", "q", "regex", "ignore_case", "invert", "format", "last_event_id", "level",
            "overflow"} <= params
    for path in ("/api/logs/{name}/stream", "/api/stream"):
        overflow = next(p for p in paths[path]["get"]["parameters"] if p["name"] == "overflow")
        assert overflow["schema"]["enum"] == ["catchup", "skip"] and overflow["schema"]["default"] == "catchup"
        assert "gap" in overflow["description"]


async def test_unusual_but_valid_parameters_still_stream(server: LogtailServer) -> None:
    """Other spellings FastAPI always accepted, e.g. `ignore_case=yes`, still stream."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client, \
            client.stream("GET", "/api/logs/app.log/stream?backlog=2&ignore_case=yes&q=OLD%202") as resp:
        assert resp.status_code == 200
        assert await EventReader(resp).texts(2) == ["old 28", "old 29"]


def _worker_pids(parent: int) -> set[int]:
    """The worker processes of a `logtail serve --workers N` parent (not multiprocessing's resource tracker)."""
    pids = set()
    for child in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"resource_tracker" not in cmdline:
            pids.add(int(child))
    return pids


def test_a_worker_that_dies_is_replaced(start_server: Start, app_log: Path) -> None:
    """Regression: a worker killed by the OOM killer or a crash was never restarted; once every worker had
    died the port still accepted connections and answered nothing."""
    server = start_server(str(app_log), "--workers", "2")
    assert server.proc is not None
    parent = server.proc.pid
    wait_for(lambda: len(_worker_pids(parent)) == 2, 30, 0.1, "two workers")
    originals = _worker_pids(parent)
    for pid in sorted(originals):
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda dead=pid: len(now := _worker_pids(parent)) == 2 and dead not in now, 60, 0.1,
                 f"{pid} replaced")
    assert not _worker_pids(parent) & originals
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for _ in range(10):
            assert client.get("/healthz").json() == {"status": "ok"}
    assert "died (exit code -9); starting another" in server.output()


def voluntary_switches(pid: int) -> int:
    """How many times the process's main thread has gone to sleep (each wake-up ends one)."""
    for line in Path(f"/proc/{pid}/task/{pid}/status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    raise AssertionError(f"no voluntary_ctxt_switches for {pid}")


async def test_an_idle_server_wakes_only_a_few_times_a_second(start_server: Start, app_log: Path) -> None:
    """uvicorn's own main loop wakes ten times a second; logtail's ticks once a second, like its rescan and
    keep-alive ticker. Counted, not timed: the count does not depend on the machine's speed."""
    server = start_server(str(app_log), "--heartbeat", "30")
    assert server.proc is not None
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        async with client.stream("GET", "/api/logs/app.log/stream?backlog=1") as resp:
            await EventReader(resp).next_event()
            before = voluntary_switches(server.proc.pid)
            await asyncio.sleep(3.0)  # the window observed, not a wait for something to happen
            woken = voluntary_switches(server.proc.pid) - before
    assert woken < 24, f"{woken} wake-ups in 3 s of idling (uvicorn's own loop alone makes 30)"
