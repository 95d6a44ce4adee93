"""A real `logtail serve journal...` on real journal files: the log list, streams with filters on the entries'
fields and levels, resume by Last-Event-ID across a restart of logtail, since=, search and download."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.journal_support import JournalWriter, journal_messages, slow_journalctl
from tests.streams import SSEClient
from tests.support import LogtailServer, wait_for

StartServer = Callable[..., LogtailServer]


@pytest.fixture
def writer(tmp_path: Path) -> JournalWriter:
    w = JournalWriter(tmp_path / "journal").open()
    yield w  # type: ignore[misc]
    w.close()


def in_file(writer: JournalWriter, count: int) -> None:
    wait_for(lambda: len(journal_messages(writer.directory)) >= count, 30, 0.1, f"{count} entries in the file")


def serve(start_server: StartServer, writer: JournalWriter, *sources: str) -> LogtailServer:
    """A server on the writer's journal, once it is ready: every journal log's window read."""
    server = start_server(*sources, "--journal-directory", str(writer.directory))
    wait_for(lambda: httpx.get(f"{server.url}/readyz", timeout=5).status_code == 200, 15, 0.02, "ready")
    return server


async def test_streams_filter_on_fields_and_levels(start_server: StartServer, writer: JournalWriter) -> None:
    writer.write("GET /a 200")
    writer.write("disk almost full", PRIORITY="4", SYSLOG_IDENTIFIER="df")
    in_file(writer, 2)
    server = serve(start_server, writer, "journal", "journal:app.service")
    names = [log["name"] for log in httpx.get(f"{server.url}/api/logs", timeout=10).json()]
    assert "journal" in names and "app.service" in names
    url = f"{server.url}/api/logs/journal/stream"
    async with SSEClient(f"{url}?backlog=10") as everything, \
            SSEClient(f"{url}?backlog=10&field=SYSLOG_IDENTIFIER:df") as df, \
            SSEClient(f"{url}?backlog=10&level=error") as errors, \
            SSEClient(f"{url}?backlog=10&field=_PID:4242&field=PRIORITY<=3") as pid_errors:
        await everything.wait_lines(2)
        writer.write("segfault", PRIORITY="2", _PID="4242")
        writer.write("other pid crashed", PRIORITY="3", _PID="7")
        await everything.wait_lines(4)
        await errors.wait_lines(2)
        await pid_errors.wait_lines(1)
        assert df.lines() == ["disk almost full"]
        assert errors.lines() == ["segfault", "other pid crashed"]
        assert pid_errors.lines() == ["segfault"]
        record = json.loads(next(e["data"] for e in everything.events if e.get("event") == "line"))
        assert record["fields"]["_SYSTEMD_UNIT"] == "app.service" and record["level"] == "info"


async def test_resume_across_a_restart_loses_and_repeats_nothing(start_server: StartServer,
                                                                 writer: JournalWriter) -> None:
    writer.write(*(f"line {i}" for i in range(5)))
    in_file(writer, 5)
    server = serve(start_server, writer, "journal:app.service")
    url = f"{server.url}/api/logs/app.service/stream"
    async with SSEClient(f"{url}?backlog=3") as client:
        assert await client.wait_lines(3) == ["line 2", "line 3", "line 4"]
        last = client.last_id()
    server.stop()
    writer.write("while down 1", "while down 2")
    writer.write("other unit", _SYSTEMD_UNIT="b.service")
    in_file(writer, 8)
    server = serve(start_server, writer, "journal:app.service", "--window-lines", "2")
    url = f"{server.url}/api/logs/app.service/stream"
    assert last is not None
    async with SSEClient(url, {"Last-Event-ID": last}) as client:
        await client.wait_lines(2)
        writer.write("live")
        await client.wait_lines(3)
        assert client.lines() == ["while down 1", "while down 2", "live"]
        assert client.notices("gap") == []


async def test_a_stream_opened_before_the_window_is_read_gets_its_backlog_and_resume(
        start_server: StartServer, writer: JournalWriter, tmp_path: Path) -> None:
    """journalctl made slow (a wrapper first on PATH), so that streams open before the journal log's window is
    read: each waits for it, then gets the backlog it asked for, or exactly what follows its id."""
    writer.write(*(f"line {i}" for i in range(5)))
    in_file(writer, 5)
    server = serve(start_server, writer, "journal:app.service")
    url = f"{server.url}/api/logs/app.service/stream"
    async with SSEClient(f"{url}?backlog=4") as client:
        await client.wait_lines(4)
        after_line_1 = client.id_of("line 1")
    server.stop()
    server = start_server("journal:app.service", "--journal-directory", str(writer.directory),
                          env=slow_journalctl(tmp_path / "slow"))
    assert httpx.get(f"{server.url}/readyz", timeout=5).status_code == 503  # still reading the window
    url = f"{server.url}/api/logs/app.service/stream"
    async with SSEClient(f"{url}?backlog=2") as fresh, SSEClient(url, {"Last-Event-ID": after_line_1}) as resumed:
        assert await fresh.wait_lines(2, 30) == ["line 3", "line 4"]
        assert await resumed.wait_lines(3, 30) == ["line 2", "line 3", "line 4"]
        writer.write("live")
        await fresh.wait_lines(3, 30)
        await resumed.wait_lines(4, 30)
        assert fresh.lines() == ["line 3", "line 4", "live"]
        assert resumed.lines() == ["line 2", "line 3", "line 4", "live"]


async def test_since_search_and_download(start_server: StartServer, writer: JournalWriter) -> None:
    for i in range(4):
        writer.send(writer.entry(f"at {i}", realtime=1_700_000_000 + 60 * i, PRIORITY="3" if i % 2 else "6"))
    in_file(writer, 4)
    server = serve(start_server, writer, "journal:app.service")
    base = f"{server.url}/api/logs/app.service"
    async with SSEClient(f"{base}/stream?since=2023-11-14T22:15:00Z") as client:  # 1_700_000_100
        assert await client.wait_lines(2) == ["at 2", "at 3"]
    text = httpx.get(f"{base}/download", timeout=30).text
    assert text.splitlines() == ["at 0", "at 1", "at 2", "at 3"]
    answer = httpx.get(f"{base}/search", params={"level": "error"}, timeout=30)
    found = [json.loads(x) for x in answer.text.splitlines()]
    assert [f["text"] for f in found if "text" in f] == ["at 3", "at 1"]
    assert httpx.get(f"{base}/rotated", timeout=10).status_code == 404


async def test_journal_forms_from_the_environment_and_a_config_file(start_server: StartServer, writer: JournalWriter,
                                                                    tmp_path: Path) -> None:
    """`journal:UNIT` and `NAME=journal:FIELD=VALUE,...` with the journal's directory from the environment
    (LOGTAIL_SOURCES, LOGTAIL_JOURNAL_DIRECTORY) and from a TOML file (`sources`, `[logs]`,
    `journal_directory`), each in a real `logtail serve` (the command line: the tests above)."""
    writer.write("app info")
    writer.write("app error", PRIORITY="3")
    writer.write("b warning", _SYSTEMD_UNIT="b.service", PRIORITY="4")
    in_file(writer, 3)
    config = tmp_path / "logtail.toml"
    config.write_text(f'journal_directory = "{writer.directory}"\nsources = ["journal:b.service"]\n'
                      '[logs]\nbad = "journal:PRIORITY=3,PRIORITY=4"\n')
    from_env = start_server(env={"LOGTAIL_SOURCES": "journal:b.service bad=journal:PRIORITY=3,PRIORITY=4",
                                 "LOGTAIL_JOURNAL_DIRECTORY": str(writer.directory)})
    from_file = start_server("--config", str(config))
    for server in (from_env, from_file):
        names = {log["name"] for log in httpx.get(f"{server.url}/api/logs", timeout=10).json()}
        assert names == {"bad", "b.service"}
        async with SSEClient(f"{server.url}/api/logs/bad/stream?backlog=10") as bad, \
                SSEClient(f"{server.url}/api/logs/b.service/stream?backlog=10") as b:
            assert await bad.wait_lines(2) == ["app error", "b warning"]
            assert await b.wait_lines(1) == ["b warning"]
