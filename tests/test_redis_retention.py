"""--redis-maxlen (logtail/ship/retention.py): a stream keeps at least that many lines, counted in Redis,
across shipper restarts and whatever the entries' sizes."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from logtail.ship.retention import Retention
from logtail.sources.redis import keys
from logtail.sources.redis.client import connect, read_last
from tests.redis_support import RedisServer, Shipper, paced_writer, wait_shipped
from tests.streams import append
from tests.support import wait_for

StartShipper = Callable[..., Shipper]
MAXLEN = 1000


def held(redis: RedisServer) -> list[str]:
    return redis.lines("web1", "app.log")


def wait_last(redis: RedisServer, line: str) -> None:
    wait_for(lambda: held(redis)[-1:] == [line], 30, 0.1, f"{line!r} in Redis")


def assert_retained(redis: RedisServer, written: list[str], batch: int) -> None:
    kept = held(redis)
    assert kept == written[-len(kept):], "the stream is not the last lines written"
    assert min(MAXLEN, len(written)) <= len(kept) <= MAXLEN + keys.ENTRY_LINES + batch, len(kept)


@pytest.mark.slow
def test_restarts_and_mixed_entry_sizes_keep_at_least_maxlen_lines(
        tmp_path: Path, redis_server: RedisServer, start_shipper: StartShipper) -> None:
    """Regression: the bound was converted to entries with this process's lines per entry, so a restart's
    512-line catch-up entries made it trim the stream to a fraction of --redis-maxlen."""
    log = tmp_path / "app.log"
    log.touch()
    args = (str(log), "--host-name", "web1", "--redis", redis_server.url, "--redis-maxlen", str(MAXLEN))
    shipper = start_shipper(*args)
    wait_for(lambda: redis_server.client().hexists(keys.LOGS_KEY, "app.log@web1"), 15, 0.05, "registration")
    written = [f"quiet {i:05d}" for i in range(1500)]
    paced_writer(log, written, chunk=10).join()  # small entries
    wait_last(redis_server, written[-1])
    assert_retained(redis_server, written, 10)
    for round_ in range(2):
        shipper.kill(signal.SIGTERM)
        busy = [f"busy {round_} {i:05d} " + "z" * 40 for i in range(3000)]
        append(log, busy)  # shipped after the restart in entries of 512 lines
        shipper = start_shipper(*args)
        quiet = [f"after {round_} {i:05d}" for i in range(200)]
        wait_last(redis_server, busy[-1])
        paced_writer(log, quiet, chunk=5).join()
        written += busy + quiet
        wait_last(redis_server, written[-1])
        assert_retained(redis_server, written, 200)


@pytest.mark.slow
def test_a_stream_that_never_reaches_maxlen_is_never_trimmed(
        tmp_path: Path, redis_server: RedisServer, start_shipper: StartShipper) -> None:
    log = tmp_path / "app.log"
    log.write_text("".join(f"line {i}\n" for i in range(MAXLEN)))
    start_shipper(str(log), "--host-name", "web1", "--redis", redis_server.url, "--redis-maxlen", str(MAXLEN))
    wait_shipped(redis_server, "web1", "app.log", [f"line {i}" for i in range(MAXLEN)])


async def test_the_count_continues_from_the_last_entry_and_old_entries_are_read_once_trimmed(
        redis_server: RedisServer) -> None:
    """A previous run left 30 entries of 10 lines (n = 10 ... 300); a new run with maxlen 100 writes one
    entry of 5 lines: everything but the last 100 lines' entries may go, the rest is read lazily."""
    key = keys.stream_key("web1", "app.log")
    raw = redis_server.client()
    for i in range(30):
        raw.xadd(key, {"fid": "f", "end": str(i), "lines": "\n".join(["x"] * 10), "n": str(10 * (i + 1))})
    client = connect(redis_server.url)
    try:
        retention = Retention(key, 100)
        await retention.start(client, (await read_last(client, key, 1))[0])
        assert retention.total == 300
        batch = [keys.line_fields(["y"] * 5, [], "f", 99)]
        retention.count(batch)
        assert batch[0]["n"] == "305"
        ids = [raw.xadd(key, batch[0])]  # type: ignore[arg-type]
        retention.stored(batch, ids)
        keep = await retention.cut(client)
        # Lines 206..305 must stay: the entry holding 201..210 (n=210, the 21st) is the first kept.
        assert keep == keys.text_of(raw.xrange(key)[20][0])
        raw.xtrim(key, minid=keep, approximate=False)
        assert sum(keys.decode_entry(i, f).fields["lines"].count("\n") + 1 for i, f in raw.xrange(key)) == 105
        assert await retention.cut(client) is None  # nothing more may go until more is written
    finally:
        await client.aclose()


async def test_a_stream_written_without_counts_is_counted_once_at_start(redis_server: RedisServer) -> None:
    key = keys.stream_key("web1", "app.log")
    raw = redis_server.client()
    for _ in range(3):
        raw.xadd(key, {"fid": "f", "end": "1", "lines": "a\nb"})
    raw.xadd(key, keys.notice_fields("rotated", "r", "f", 1))
    client = connect(redis_server.url)
    try:
        retention = Retention(key, 2)
        await retention.start(client, (await read_last(client, key, 1))[0])
        assert retention.total == 6
        ids = [keys.text_of(i) for i, _ in raw.xrange(key)]
        assert await retention.cut(client) == ids[2]  # the last entry of lines (5, 6) is the first kept
    finally:
        await client.aclose()
