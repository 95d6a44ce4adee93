"""`logtail ship` (logtail/ship/shipper.py) against a real redis-server: every line exactly once, whatever
happens to the shipper or to Redis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from logtail.sources.redis import keys
from tests.redis_support import RedisServer, Shipper, paced_writer, shipping_a_and_b, wait_shipped
from tests.streams import append
from tests.support import free_port, wait_for

pytestmark = pytest.mark.slow
StartShipper = Callable[..., Shipper]


def start_registered(start_shipper: StartShipper, log: Path, redis: RedisServer, *args: str) -> Shipper:
    """A shipper of the empty file `log` as host web1, once it has registered the log."""
    log.touch()
    shipper = start_shipper(str(log), "--host-name", "web1", "--redis", redis.url, *args)
    wait_for(lambda: redis.client().hexists(keys.LOGS_KEY, "app.log@web1"), 15, 0.05, "registration")
    return shipper




def test_lines_are_shipped_once_with_the_url_from_the_environment(tmp_path: Path, redis_server: RedisServer,
                                                                   start_shipper: StartShipper) -> None:
    """LOGTAIL_REDIS sets the URL (a password need not be on the command line); the log is registered."""
    log = tmp_path / "app.log"
    log.write_text("old 1\nold 2\n")
    port = free_port()
    shipper = start_shipper(str(log), "--host-name", "web1", "--metrics-port", str(port),
                            env={"LOGTAIL_REDIS": redis_server.url})
    wait_shipped(redis_server, "web1", "app.log", ["old 1", "old 2"])
    append(log, ["new 1", "new 2"])
    wait_shipped(redis_server, "web1", "app.log", ["old 1", "old 2", "new 1", "new 2"])
    record = json.loads(redis_server.client().hget(keys.LOGS_KEY, "app.log@web1") or b"{}")
    assert (record["host"], record["name"], record["path"]) == ("web1", "app.log", str(log))
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert 'logtail_ship_lines_total{log="app.log"} 4.0' in metrics
    assert "logtail_ship_redis_up 1.0" in metrics, shipper.output()


def test_sigkill_mid_burst_then_restart_ships_every_line_exactly_once(
        tmp_path: Path, redis_server: RedisServer, start_shipper: StartShipper) -> None:
    log = tmp_path / "app.log"
    shipper = start_registered(start_shipper, log, redis_server)
    lines = [f"line {i:06d} " + "x" * 60 for i in range(40_000)]
    writer = paced_writer(log, lines)
    try:
        wait_for(lambda: redis_server.lines("web1", "app.log"), 15, 0.01, "the first lines")
        shipper.kill(signal.SIGKILL)
        shipped_at_kill = len(redis_server.lines("web1", "app.log"))
    finally:
        writer.join()
    assert shipped_at_kill < len(lines), "the shipper finished before it was killed: the test proves nothing"
    start_shipper(str(log), "--host-name", "web1", "--redis", redis_server.url)
    wait_shipped(redis_server, "web1", "app.log", lines, timeout=60)


def test_a_restart_after_rotation_finishes_the_rotated_file_first(
        tmp_path: Path, redis_server: RedisServer, start_shipper: StartShipper) -> None:
    """The stored position is in NAME.1 now: its rest is shipped, then the new file from its start."""
    log, shipper = shipping_a_and_b(tmp_path, redis_server, start_shipper)
    shipper.kill(signal.SIGKILL)
    append(log, ["c", "d"])
    log.rename(tmp_path / "app.log.1")
    log.write_text("e\n")
    start_shipper(str(log), "--host-name", "web1", "--redis", redis_server.url)
    wait_shipped(redis_server, "web1", "app.log", ["a", "b", "c", "d", "e"])
    kinds = [e.notice[0] for e in redis_server.entries("web1", "app.log") if e.notice]
    assert kinds == ["rotated"]


def test_redis_restarted_with_aof_loses_nothing_and_the_outage_is_reported_once(
        tmp_path: Path, start_shipper: StartShipper) -> None:
    redis = RedisServer(tmp_path / "redis", aof=True).start()
    try:
        log = tmp_path / "app.log"
        log.touch()
        shipper = start_shipper(str(log), "--host-name", "web1", "--redis", redis.url)
        first = [f"before {i}" for i in range(100)]
        append(log, first)
        wait_shipped(redis, "web1", "app.log", first)
        assert redis.proc is not None
        os.kill(redis.proc.pid, signal.SIGKILL)  # no shutdown: only what was acknowledged (fsync always) is kept
        redis.proc.wait(10)
        during = [f"during {i}" for i in range(100)]
        append(log, during)
        wait_for(lambda: "unreachable" in shipper.output(), 15, 0.05, "the outage warning")
        redis.start()
        wait_shipped(redis, "web1", "app.log", first + during)
        wait_for(lambda: "is back" in shipper.output(), 15, 0.05, "the recovery message")
        assert shipper.output().count("unreachable") == 1
    finally:
        redis.stop()


def test_redis_that_stops_answering_for_seconds_loses_nothing(
        tmp_path: Path, redis_server: RedisServer, start_shipper: StartShipper) -> None:
    """A Redis that hangs (SIGSTOP: connections open, no replies), as behind a cut link, then resumes."""
    log = tmp_path / "app.log"
    shipper = start_registered(start_shipper, log, redis_server)
    assert redis_server.proc is not None
    os.kill(redis_server.proc.pid, signal.SIGSTOP)
    try:
        lines = [f"line {i}" for i in range(1000)]
        append(log, lines[:500])
        wait_for(lambda: "unreachable" in shipper.output(), 20, 0.1, "the outage warning")
        append(log, lines[500:])
    finally:
        os.kill(redis_server.proc.pid, signal.SIGCONT)
    wait_shipped(redis_server, "web1", "app.log", lines, timeout=40)


@pytest.mark.parametrize(("args", "message"), [
    (["--host-name", "../etc"], "host name '../etc' is not URL-safe"),
    (["--host-name", "a b"], "not URL-safe"),
    (["--redis", "http://127.0.0.1:1"], "redis must be a redis://, rediss:// or unix:// URL"),
    (["--redis-maxlen", "0"], "redis_maxlen must be at least 1"),
    (["--redis", "redis://127.0.0.1:1/0?socket_timeout=soon"], "Invalid value for 'socket_timeout'"),
    ([], "ship needs a Redis URL"),
])
def test_bad_settings_are_one_line_and_exit_status_2(tmp_path: Path, args: list[str], message: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LOGTAIL_REDIS"}
    if "--redis" not in args and args:
        args = [*args, "--redis", "redis://127.0.0.1:1/0"]
    done = subprocess.run([sys.executable, "-m", "logtail", "ship", str(tmp_path / "a.log"), *args], env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_a_password_in_the_url_never_reaches_the_log(tmp_path: Path, start_shipper: StartShipper) -> None:
    port = free_port()  # nothing listens there: the shipper warns about the outage
    shipper = start_shipper(str(tmp_path / "a.log"), "--host-name", "h",
                            env={"LOGTAIL_REDIS": f"redis://user:s3cret@127.0.0.1:{port}/0"})
    wait_for(lambda: "unreachable" in shipper.output(), 15, 0.05, "the outage warning")
    assert "s3cret" not in shipper.output() and "user:***@" in shipper.output()


def test_redis_maxlen_bounds_the_lines_kept(tmp_path: Path, redis_server: RedisServer,
                                            start_shipper: StartShipper) -> None:
    """--redis-maxlen counts lines (approximately), whether entries hold one line or a batch."""
    log = tmp_path / "app.log"
    start_registered(start_shipper, log, redis_server, "--redis-maxlen", "500")
    lines = [f"line {i:05d} " + "y" * 80 for i in range(3000)]
    paced_writer(log, lines, chunk=100).join()
    wait_for(lambda: redis_server.lines("web1", "app.log")[-1:] == lines[-1:], 30, 0.1, "the last line")
    kept = redis_server.lines("web1", "app.log")
    assert 500 <= len(kept) <= 1500 and kept == lines[-len(kept):]


def test_the_config_file_sets_redis_and_the_host_name_and_flags_win(
        tmp_path: Path, redis_server: RedisServer, start_shipper: StartShipper) -> None:
    log = tmp_path / "app.log"
    log.write_text("one\n")
    config = tmp_path / "ship.toml"
    config.write_text(f'redis = "{redis_server.url}"\nhost_name = "from-file"\n[logs]\n"app.log" = "{log}"\n')
    start_shipper("--config", str(config), "--host-name", "from-flag")
    wait_shipped(redis_server, "from-flag", "app.log", ["one"])
    assert redis_server.entries("from-file", "app.log") == []
