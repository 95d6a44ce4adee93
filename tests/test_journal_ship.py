"""`logtail ship journal...`: journal entries into Redis streams like file lines, resumable across a restart
of the shipper with nothing lost or repeated (real journal files, redis-server and `logtail ship`)."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from logtail.sources.redis import keys
from tests.journal_support import JournalWriter
from tests.redis_support import RedisServer, Shipper, body_lines, listed
from tests.support import LogtailServer, wait_for

pytestmark = pytest.mark.slow
StartShipper = Callable[..., Shipper]


def wait_shipped(redis: RedisServer, name: str, expected: list[str], timeout: float = 30) -> None:
    def done() -> bool:
        got = redis.lines("web1", name)
        assert len(got) <= len(expected) and got == expected[:len(got)], "an entry was lost, repeated or reordered"
        return got == expected
    wait_for(done, timeout, 0.1, f"{len(expected)} lines of {name}@web1 in Redis")


def test_journal_entries_shipped_and_resumed_after_a_restart(tmp_path: Path, redis_server: RedisServer,
                                                             start_shipper: StartShipper) -> None:
    with JournalWriter(tmp_path / "journal") as writer:
        writer.write("old 1", "old 2")
        writer.write("not this unit", _SYSTEMD_UNIT="other.service")
        args = ("journal:app.service", "--journal-directory", str(writer.directory), "--host-name", "web1",
                "--redis", redis_server.url)
        shipper = start_shipper(*args)
        wait_shipped(redis_server, "app.service", ["old 1", "old 2"])
        record = redis_server.client().hget(keys.LOGS_KEY, "app.service@web1")
        assert record is not None and b"journal:--unit=app.service" in record
        writer.write("live 1")
        wait_shipped(redis_server, "app.service", ["old 1", "old 2", "live 1"])
        shipper.kill(signal.SIGKILL)
        writer.write("while stopped 1", "while stopped 2")
        writer.write("not this unit either", _SYSTEMD_UNIT="other.service")
        start_shipper(*args)
        writer.write("after restart")
        wait_shipped(redis_server, "app.service",
                     ["old 1", "old 2", "live 1", "while stopped 1", "while stopped 2", "after restart"])


async def test_shipped_entries_keep_their_fields_and_levels(tmp_path: Path, redis_server: RedisServer,
                                                            start_shipper: StartShipper,
                                                            start_server: Callable[..., LogtailServer]) -> None:
    """On a web node, field filters, levels and the fields sent with each line work on `unit@host` as they do
    on the host: the entry's fields and PRIORITY travel with its MESSAGE."""
    with JournalWriter(tmp_path / "journal") as writer:
        writer.write("GET /a 200")
        writer.write("disk almost full", PRIORITY="4", SYSLOG_IDENTIFIER="df")
        writer.write("segfault", PRIORITY="2", _PID="99")
        writer.write('{"user": "alice", "msg": "json message"}', PRIORITY="7")
        writer.write("a message\nwith newlines", PRIORITY="4")
        start_shipper("journal:app.service", "--journal-directory", str(writer.directory), "--host-name", "web1",
                      "--redis", redis_server.url)
        texts = ["GET /a 200", "disk almost full", "segfault", '{"user": "alice", "msg": "json message"}',
                 "a message\nwith newlines"]
        wait_shipped(redis_server, "app.service", texts)
    stored = redis_server.entries("web1", "app.service")
    assert "a message with newlines" in stored[-1].fields["lines"]  # one line of `lines`; the text in `carried`
    node = start_server("--redis", redis_server.url)
    listed(node, "app.service@web1")
    url = f"{node.url}/api/logs/app.service@web1"

    async def rows(query: str, count: int) -> list[dict[str, Any]]:
        return [json.loads(x) for x in await body_lines(f"{url}/stream?format=ndjson&backlog=10&{query}", count)]

    every = await rows("", 5)
    assert [r["text"] for r in every] == texts
    assert [(r["level"], r["fields"]["_SYSTEMD_UNIT"], r["fields"]["_PID"]) for r in every] == [
        ("info", "app.service", "4242"), ("warn", "app.service", "4242"), ("error", "app.service", "99"),
        ("debug", "app.service", "4242"), ("warn", "app.service", "4242")]
    assert every[1]["fields"]["SYSLOG_IDENTIFIER"] == "df" and "MESSAGE" not in every[1]["fields"]
    assert [r["text"] for r in await rows("field=SYSLOG_IDENTIFIER:df", 1)] == ["disk almost full"]
    assert [r["text"] for r in await rows("level=error", 1)] == ["segfault"]
    assert [r["text"] for r in await rows("field=_PID:99&field=PRIORITY%3C%3D3", 1)] == ["segfault"]
    assert [r["text"] for r in await rows("field=user:alice&field=_SYSTEMD_UNIT:app.service", 1)] == [texts[3]]
    answer = httpx.get(f"{url}/search", params={"field": "_PID:99"}, timeout=30)
    found = [json.loads(x) for x in answer.text.splitlines()]
    assert [f["text"] for f in found if "text" in f] == ["segfault"]


def test_a_shipper_whose_last_entry_was_vacuumed_stores_a_gap_then_what_remains(
        tmp_path: Path, redis_server: RedisServer, start_shipper: StartShipper) -> None:
    directory = tmp_path / "journal"
    args = ("journal:app.service", "--journal-directory", str(directory), "--host-name", "web1",
            "--redis", redis_server.url)
    with JournalWriter(directory, "old.journal") as old:
        old.write("gone 1", "gone 2")
    shipper = start_shipper(*args)
    wait_shipped(redis_server, "app.service", ["gone 1", "gone 2"])
    shipper.kill(signal.SIGKILL)
    old.path.unlink()  # vacuumed while the shipper was down: its last shipped entry is in no file any more
    with JournalWriter(directory, "new.journal") as new:
        new.write("kept 1", "kept 2")
    start_shipper(*args)
    wait_shipped(redis_server, "app.service", ["gone 1", "gone 2", "kept 1", "kept 2"])
    notices = [e.notice for e in redis_server.entries("web1", "app.service") if e.notice is not None]
    assert [kind for kind, _ in notices] == ["gap"] and "no longer in the journal" in notices[0][1]
