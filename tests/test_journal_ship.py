"""`logtail ship journal...`: journal entries into Redis streams like file lines, resumable across a restart
of the shipper with nothing lost or repeated (real journal files, redis-server and `logtail ship`)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from logtail.sources.redis import keys
from tests.journal_support import JournalWriter
from tests.redis_support import RedisServer, Shipper
from tests.support import wait_for

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
