"""The journal source on real journal files (made by systemd-journal-remote, grown while the test runs):
following into a real hub, matches, levels, since=, reading back after an id (also from a new source, as
after a restart), gaps, binary and huge messages, quiet units, and a journalctl child that dies."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from logtail.config import Settings, parse_source
from logtail.core.cursor import Cursor
from logtail.core.hub import Hub
from logtail.sources.journal.entry import JournalLine
from logtail.sources.journal.source import Gap, JournalSource
from tests.journal_support import JournalWriter
from tests.streams import async_wait_for

T = TypeVar("T")


async def until(check: Callable[[], T | None], what: str, within: float = 20.0) -> T:
    return await async_wait_for(check, within, what)


def settings(directory: Path, *specs: str, **kwargs: object) -> Settings:
    return Settings(sources=tuple(parse_source(s, directory) for s in specs), journal_directory=str(directory),
                    **kwargs)  # type: ignore[arg-type]


class Running:
    """A JournalSource following into a real hub, in a task of the test's loop."""

    def __init__(self, source: JournalSource, hub: Hub) -> None:
        self.source = source
        self.hub = hub
        self.task = asyncio.create_task(source.run())

    def texts(self, log: str) -> list[str]:
        return [line.text for line in self.hub.channel(log).recent()]

    def lines(self, log: str) -> list[JournalLine]:
        return self.hub.channel(log).recent()  # type: ignore[return-value]

    async def started(self, *logs: str) -> None:
        for log in logs:
            await until(lambda log=log: self.hub.channel(log).position, f"{log}'s first position")  # type: ignore[misc]

    async def stop(self) -> None:
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task


@pytest.fixture
async def writer(tmp_path: Path) -> AsyncIterator[JournalWriter]:
    w = JournalWriter(tmp_path / "journal").open()
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
async def run_source() -> AsyncIterator[Callable[[Settings], Running]]:
    running: list[Running] = []

    def start(s: Settings) -> Running:
        hub = Hub(s.window_lines, s.queue_bytes)
        r = Running(JournalSource(s, hub), hub)
        running.append(r)
        return r

    yield start
    for r in running:
        if not r.task.done():
            await r.stop()


async def read_all(source: JournalSource, log: str, cursor: Cursor, end: Cursor | None) -> list[str | Gap]:
    out: list[str | Gap] = []
    async for item in source.entries_after(log, cursor, end):
        out += [item] if isinstance(item, Gap) else [line.text for line in item]
    return out


async def test_follows_live_with_backlog_and_matches(writer: JournalWriter,
                                                     run_source: Callable[[Settings], Running]) -> None:
    writer.write("old a1", "old a2")
    writer.write("old b1", _SYSTEMD_UNIT="b.service", PRIORITY="3")
    await until(lambda: len(writer_messages(writer)) == 3, "the first entries in the file")
    r = run_source(settings(writer.directory, "journal", "journal:app.service", "journal:b.service",
                            "errs=journal:PRIORITY=3,PRIORITY=4",
                            "app-errs=journal:_SYSTEMD_UNIT=app.service,PRIORITY=3"))
    await r.started("journal", "app.service", "errs")
    writer.write("new a err", PRIORITY="3")
    writer.write("new b warn", _SYSTEMD_UNIT="b.service", PRIORITY="4")
    writer.write("new a info")
    await until(lambda: len(r.texts("journal")) == 6, "six entries of the whole journal")
    assert r.texts("journal") == ["old a1", "old a2", "old b1", "new a err", "new b warn", "new a info"]
    await until(lambda: len(r.texts("app.service")) == 4, "app.service's entries")
    assert r.texts("app.service") == ["old a1", "old a2", "new a err", "new a info"]
    await until(lambda: len(r.texts("b.service")) == 2, "b.service's entries")
    # The same field twice: either value; different fields: both.
    await until(lambda: len(r.texts("errs")) == 3, "the errors and warnings")
    assert r.texts("errs") == ["old b1", "new a err", "new b warn"]
    await until(lambda: r.texts("app-errs"), "app.service's errors")
    assert r.texts("app-errs") == ["new a err"]
    assert [line.level for line in r.lines("journal")] == ["info", "info", "error", "error", "warn", "info"]
    # Ids are the seqnum id's prefix and the entry's number; the hub's position is the last one's.
    ids = [line.cursor for line in r.lines("journal")]
    fid = r.lines("journal")[0].fid
    assert ids == [f"journal={fid}:{n}" for n in range(1, 7)]
    assert r.hub.channel("journal").position == Cursor("journal", fid, 6)


async def test_not_ready_until_every_logs_window_is_read(writer: JournalWriter,
                                                         run_source: Callable[[Settings], Running]) -> None:
    writer.write("old a1", "old a2")
    await until(lambda: len(writer_messages(writer)) == 2, "the first entries in the file")
    r = run_source(settings(writer.directory, "journal", "journal:app.service"))
    # Before the windows are read a stream's backlog would be empty and a resume would find no position:
    # /readyz says 503 meanwhile, and a new stream waits for its logs' windows.
    assert r.source.unready() == "journal logs: reading their last entries"
    waiting = asyncio.create_task(r.source.started(["app.service", "a-file.log"]))
    await asyncio.wait_for(waiting, 10)
    assert r.texts("app.service") == ["old a1", "old a2"]
    await until(lambda: r.source.unready() is None, "every window read")


def writer_messages(writer: JournalWriter) -> list[str]:
    from tests.journal_support import journal_messages
    return journal_messages(writer.directory)


async def test_read_back_after_a_position_up_to_the_hubs(writer: JournalWriter,
                                                         run_source: Callable[[Settings], Running]) -> None:
    writer.write(*(f"line {i}" for i in range(10)))
    writer.write("other unit", _SYSTEMD_UNIT="b.service")
    await until(lambda: len(writer_messages(writer)) == 11, "the entries in the file")
    r = run_source(settings(writer.directory, "journal:app.service"))
    await until(lambda: len(r.texts("app.service")) == 10, "the backlog")
    fid = r.lines("app.service")[0].fid
    end = r.hub.channel("app.service").position
    writer.write("after the end")
    got = await read_all(r.source, "app.service", Cursor("app.service", fid, 4), Cursor("app.service", fid, 10))
    assert got == [f"line {i}" for i in range(4, 10)]
    # To the journal's end when no end is given; and a new source (as after a restart) finds the id again.
    assert end is not None
    await r.stop()
    fresh = JournalSource(settings(writer.directory, "journal:app.service"), Hub(10, 1 << 20))
    assert fid not in fresh.ids.by_fid
    await until(lambda: len(writer_messages(writer)) == 12, "the last entry in the file")
    assert await read_all(fresh, "app.service", Cursor("app.service", fid, 8), None) == [
        "line 8", "line 9", "after the end"]


async def test_an_id_from_a_journal_that_is_gone_gives_a_gap_then_what_remains(
        tmp_path: Path, run_source: Callable[[Settings], Running]) -> None:
    directory = tmp_path / "journal"
    with JournalWriter(directory, "old.journal") as old:
        old.write("gone 1", "gone 2")
    source = JournalSource(settings(directory, "journal"), Hub(10, 1 << 20))
    lines = [line async for batch in source.entries_after("journal", Cursor("journal", "000000000000", 0), None)
             if not isinstance(batch, Gap) for line in batch]
    fid = lines[0].fid
    old.path.unlink()  # vacuumed: its seqnum id is in no file any more
    with JournalWriter(directory, "new.journal") as new:
        new.write("kept 1", "kept 2")
    fresh = JournalSource(settings(directory, "journal"), Hub(10, 1 << 20))
    got = await read_all(fresh, "journal", Cursor("journal", fid, 1), None)
    assert got == [Gap(), "kept 1", "kept 2"]


async def test_since_uses_the_journals_time_index(writer: JournalWriter,
                                                  run_source: Callable[[Settings], Running]) -> None:
    for i in range(5):
        writer.send(writer.entry(f"at {i}", realtime=1_700_000_000 + 10 * i))
    writer.send(writer.entry("b at 45", realtime=1_700_000_045, _SYSTEMD_UNIT="b.service"))
    await until(lambda: len(writer_messages(writer)) == 6, "the entries in the file")
    source = JournalSource(settings(writer.directory, "journal:app.service", "journal"), Hub(10, 1 << 20))
    start = await source.start_at("app.service", 1_700_000_015)
    assert start is not None
    assert await read_all(source, "app.service", start, None) == ["at 2", "at 3", "at 4"]
    start = await source.start_at("journal", 1_700_000_021.5)
    assert start is not None
    assert await read_all(source, "journal", start, None) == ["at 3", "at 4", "b at 45"]
    assert await source.start_at("journal", 1_800_000_000) is None


async def test_binary_and_huge_messages(writer: JournalWriter, run_source: Callable[[Settings], Running]) -> None:
    big = "x" * (1 << 20)
    writer.write(b"bin\xff\x00ary\nsecond line")
    writer.write(big)
    writer.write("after")
    r = run_source(settings(writer.directory, "journal", max_line_bytes=1000))
    await until(lambda: len(r.texts("journal")) == 3, "three entries")
    binary, huge, after = r.lines("journal")
    assert binary.text == "bin\ufffd\x00ary\nsecond line" and not binary.truncated
    assert huge.text == "x" * 1000 and huge.truncated
    assert after.text == "after" and not after.truncated


async def test_a_whole_megabyte_message_within_the_cap(writer: JournalWriter,
                                                       run_source: Callable[[Settings], Running]) -> None:
    big = "y" * (1 << 20)
    writer.write(big)
    r = run_source(settings(writer.directory, "journal", max_line_bytes=2 << 20))
    await until(lambda: r.texts("journal"), "the entry")
    assert r.texts("journal") == [big] and not r.lines("journal")[0].truncated


async def test_a_unit_that_logs_nothing_yet_and_a_match_with_no_entries(
        writer: JournalWriter, run_source: Callable[[Settings], Running]) -> None:
    writer.write("something else")
    await until(lambda: writer_messages(writer), "the first entry")
    r = run_source(settings(writer.directory, "journal:quiet.service", "none=journal:_SYSTEMD_UNIT=nope.service"))
    await r.started("quiet.service", "none")
    position = r.hub.channel("quiet.service").position
    assert position is not None and r.texts("quiet.service") == []
    writer.write("at last", _SYSTEMD_UNIT="quiet.service")
    await until(lambda: r.texts("quiet.service"), "the quiet unit's first entry")
    assert r.texts("quiet.service") == ["at last"]
    # The position before the unit's first entry reads back to it.
    assert await read_all(r.source, "quiet.service", position, None) == ["at last"]
    assert r.texts("none") == []
    assert all(f.restarts == 0 for f in r.source.followers.values())


async def test_an_empty_journal_then_entries(tmp_path: Path, run_source: Callable[[Settings], Running]) -> None:
    directory = tmp_path / "journal"
    directory.mkdir()
    r = run_source(settings(directory, "journal"))
    await until(lambda: r.source.followers["journal"].child, "journalctl following the empty directory")
    with JournalWriter(directory) as w:
        w.write("first ever")
        await until(lambda: r.texts("journal"), "the first entry")
    assert r.texts("journal") == ["first ever"]
    assert r.source.followers["journal"].restarts == 0  # journalctl --follow accepted the empty journal


async def test_a_dead_journalctl_is_restarted_and_nothing_is_lost_or_repeated(
        writer: JournalWriter, run_source: Callable[[Settings], Running]) -> None:
    writer.write("before 1", "before 2")
    r = run_source(settings(writer.directory, "journal"))
    await until(lambda: len(r.texts("journal")) == 2, "the backlog")
    follower = r.source.followers["journal"]
    child = await until(lambda: follower.child, "the running journalctl")
    assert child.proc is not None
    pid, restarts = child.proc.pid, follower.restarts
    os.killpg(pid, signal.SIGKILL)
    writer.write("while dead 1", "while dead 2")
    await until(lambda: follower.restarts > restarts and follower.child not in (None, child), "a new journalctl")
    writer.write("after restart")
    await until(lambda: len(r.texts("journal")) >= 5, "every entry")
    await asyncio.sleep(0.3)  # a repeat would arrive with the entries it follows
    assert r.texts("journal") == ["before 1", "before 2", "while dead 1", "while dead 2", "after restart"]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped: not even a zombie is left


async def test_a_missing_directory_is_retried_not_fatal(tmp_path: Path, run_source: Callable[[Settings], Running],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    directory = tmp_path / "later"
    r = run_source(settings(directory, "journal"))
    follower = r.source.followers["journal"]
    await until(lambda: follower.restarts >= 1, "a restart")
    assert "journalctl" in caplog.text
    with JournalWriter(directory) as w:
        w.write("now there")
        await until(lambda: r.texts("journal"), "the entry", within=60)
    assert r.texts("journal") == ["now there"]


async def test_closing_kills_the_child(writer: JournalWriter, run_source: Callable[[Settings], Running]) -> None:
    r = run_source(settings(writer.directory, "journal"))
    follower = r.source.followers["journal"]
    child = await until(lambda: follower.child, "the running journalctl")
    assert child.proc is not None
    pid = child.proc.pid
    await r.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def respond(response: object) -> bytes:
    """Run an ASGI response object (a search or download) and return its body."""
    body: list[bytes] = []
    gone = asyncio.Event()

    async def receive() -> dict[str, object]:
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.body":
            body.append(message.get("body", b""))  # type: ignore[arg-type]

    await response({"type": "http", "method": "GET"}, receive, send)  # type: ignore[operator]
    gone.set()
    return b"".join(body)


async def test_search_and_download_over_the_retained_entries(writer: JournalWriter) -> None:
    from logtail.core.rawresponse import Transfers
    from logtail.match.fields import parse_field_filters
    from logtail.match.filters import LineFilter
    from logtail.sources.base import SearchRequest
    from logtail.sources.journal.history import JournalDownload, JournalSearch

    for i in range(6):
        writer.write(f"request {i} {'error' if i % 2 else 'ok'}", PRIORITY="3" if i % 2 else "6")
    writer.write("request b error", _SYSTEMD_UNIT="b.service", PRIORITY="3")
    await until(lambda: len(writer_messages(writer)) == 7, "the entries in the file")
    source = JournalSource(settings(writer.directory, "journal:app.service"), Hub(10, 1 << 20))
    transfers = Transfers(30.0)
    text = await respond(JournalDownload(source, "app.service", transfers))
    assert text.decode().splitlines() == [f"request {i} {'error' if i % 2 else 'ok'}" for i in range(6)]

    def search(**kwargs: object) -> SearchRequest:
        return SearchRequest(**kwargs)  # type: ignore[arg-type]

    errors = LineFilter(fields=parse_field_filters(["PRIORITY:3"]))
    out = [json.loads(x) for x in (await respond(JournalSearch(source, "app.service", search(filter=errors),
                                                               transfers))).splitlines()]
    hits = [o for o in out if "text" in o]
    assert [h["text"] for h in hits] == ["request 5 error", "request 3 error", "request 1 error"]
    assert hits[0]["fields"]["PRIORITY"] == "3" and hits[0]["level"] == "error"
    assert out[-1] == {"event": "done", "matches": 3, "scanned": 6, "total": None, "truncated": False}
    # Paging: before the second hit, newest first; after the first hit, oldest first, with context.
    before = parse_id(hits[1]["id"])
    out = [json.loads(x) for x in (await respond(JournalSearch(
        source, "app.service", search(filter=errors, before=before), transfers))).splitlines()]
    assert [o["text"] for o in out if "text" in o] == ["request 1 error"]
    out = [json.loads(x) for x in (await respond(JournalSearch(
        source, "app.service", search(filter=errors, after=before, order="oldest", context=1),
        transfers))).splitlines()]
    found = [o for o in out if "text" in o]
    assert [(o["text"], o["context_before"], o["context_after"]) for o in found] == [
        ("request 5 error", ["request 4 ok"], [])]


def parse_id(value: str) -> Cursor:
    from logtail.core.cursor import parse_cursors
    return next(iter(parse_cursors(value).values()))


async def test_the_system_journal_when_the_machine_has_one(run_source: Callable[[Settings], Running]) -> None:
    """The real system journal (no --journal-directory): skipped, saying why, where there is none."""
    import subprocess
    probe = subprocess.run(["journalctl", "--no-pager", "--lines=1", "--output=json", "--quiet"],
                           capture_output=True, timeout=60, check=False)
    if probe.returncode != 0 or not probe.stdout.strip():
        pytest.skip("this machine has no system journal with entries (no journald, or no access to it)")
    s = Settings(sources=(parse_source("journal", Path()),), window_lines=5)
    r = run_source(s)
    await r.started("journal")
    await until(lambda: r.texts("journal"), "the system journal's last entries")
    line = r.lines("journal")[-1]
    assert line.cursor.startswith("journal=") and line.end > 0


async def test_a_read_back_is_bounded_by_resume_max_bytes(writer: JournalWriter) -> None:
    writer.write(*(f"entry {i:04d} " + "x" * 80 for i in range(30)))
    await until(lambda: len(writer_messages(writer)) == 30, "the entries in the file")
    source = JournalSource(settings(writer.directory, "journal", resume_max_bytes=1000), Hub(10, 1 << 20))
    got = await read_all(source, "journal", Cursor("journal", "000000000000", 0), None)
    # The newest entries that fit in 1000 bytes (91 bytes and a newline each: 10), after a gap saying so.
    assert got[0] == Gap() and isinstance(got[1], Gap) and "--resume-max-bytes" in got[1].message
    assert got[2:] == [f"entry {i:04d} " + "x" * 80 for i in range(20, 30)]
    # From a position inside the journal, up to the hub's position: the newest up to that end.
    whole = JournalSource(settings(writer.directory, "journal"), Hub(10, 1 << 20))
    origin = Cursor("journal", "000000000000", 0)
    first = await anext(line async for batch in whole.entries_after("journal", origin, None)
                        if not isinstance(batch, Gap) for line in batch)
    start, end = Cursor("journal", first.fid, first.end - 1), Cursor("journal", first.fid, first.end + 4)
    got = await read_all(source, "journal", start, end)
    assert got == [f"entry {i:04d} " + "x" * 80 for i in range(0, 5)]  # 5 entries fit: no gap
    big = JournalSource(settings(writer.directory, "journal", resume_max_bytes=300), Hub(10, 1 << 20))
    got = await read_all(big, "journal", start, end)
    assert isinstance(got[0], Gap) and got[1:] == [f"entry {i:04d} " + "x" * 80 for i in range(2, 5)]


async def test_read_after_reads_up_to_the_hubs_position(writer: JournalWriter) -> None:
    """`Source.read_after` (a lagging client's catch-up): the entries after the cursor up to the hub's position,
    not the ones written since."""
    writer.write(*(f"entry {i}" for i in range(3)))
    await until(lambda: len(writer_messages(writer)) == 3, "the entries in the file")
    hub = Hub(10, 1 << 20)
    source = JournalSource(settings(writer.directory, "journal"), hub)
    first = [line async for batch in source.entries_after("journal", Cursor("journal", "000000000000", 0), None)
             if not isinstance(batch, Gap) for line in batch]
    hub.publish("journal", list(first), Cursor("journal", first[-1].fid, first[-1].end))
    writer.write("after the hub's position")
    await until(lambda: len(writer_messages(writer)) == 4, "the last entry in the file")
    cursor = Cursor("journal", first[0].fid, first[0].end)
    reading = await source.read_after(hub.channel("journal"), cursor, "sse", False)
    assert reading.blocks is not None
    got = [line.text for batch in [b async for b in reading.blocks] for line in batch]  # type: ignore[union-attr]
    assert got == ["entry 1", "entry 2"]
    reading.close()
