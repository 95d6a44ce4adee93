"""A shipper restarted with nothing written meanwhile (logtail/ship/shipper.py, `shipped_position_in` and `_start`):
nothing re-sent, no `gap`, also when the position it had reached is exactly the end of NAME.1."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from logtail.core.cursor import file_id
from logtail.ship.shipper import shipped_position_in as locate
from logtail.sources.redis import keys
from tests.redis_support import RedisServer, Shipper, shipping_a_and_b, wait_shipped
from tests.streams import append
from tests.support import wait_for

StartShipper = Callable[..., Shipper]


def fid_of(path: Path) -> str:
    return file_id(path.read_bytes(), path.stat().st_size)


def test_a_position_at_the_exact_end_of_the_current_file_is_in_it(tmp_path: Path) -> None:
    """Regression: `end <= size` changed to `<` re-sent the whole file after a `gap`, and no test saw it."""
    log = tmp_path / "app.log"
    log.write_text("a\nb\n")
    assert locate(log, fid_of(log), 4) == ("current", None)
    assert locate(log, fid_of(log), 5)[0] == "gone"  # past the end: not this file


def test_a_position_at_the_exact_end_of_name_1_is_in_it_with_nothing_left_to_ship(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    rotated = tmp_path / "app.log.1"
    rotated.write_text("a\nb\n")
    log.write_text("c\n")
    where, rb = locate(log, fid_of(rotated), 4)
    assert where == "rotated" and rb is not None
    try:
        assert (rb.start, rb.stop) == (4, 4)
    finally:
        os.close(rb.fd)
    assert locate(log, fid_of(rotated), 5)[0] == "gone"


def kinds(redis: RedisServer) -> list[str]:
    return [e.notice[0] if e.notice else "lines" for e in redis.entries("web1", "app.log")]


def restart_idle(shipper: Shipper, start_shipper: StartShipper, redis: RedisServer, log: Path) -> Shipper:
    """Stop the shipper and start it again with nothing written; returns once the new one has started
    shipping (its registry record is rewritten with a new last_seen when a log starts)."""
    def seen() -> float:
        return float(json.loads(redis.client().hget(keys.LOGS_KEY, "app.log@web1") or b"{}")["last_seen"])
    before = seen()
    shipper.kill(signal.SIGTERM)
    shipper = start_shipper(str(log), "--host-name", "web1", "--redis", redis.url)
    wait_for(lambda: seen() > before, 20, 0.05, "the restarted shipper")
    return shipper


@pytest.mark.slow
def test_an_idle_restart_resends_nothing(tmp_path: Path, redis_server: RedisServer,
                                         start_shipper: StartShipper) -> None:
    log, shipper = shipping_a_and_b(tmp_path, redis_server, start_shipper)
    shipper = restart_idle(shipper, start_shipper, redis_server, log)
    shipper = restart_idle(shipper, start_shipper, redis_server, log)
    append(log, ["c"])
    wait_shipped(redis_server, "web1", "app.log", ["a", "b", "c"])
    assert "gap" not in kinds(redis_server)


@pytest.mark.slow
def test_an_idle_restart_at_the_end_of_name_1_resends_nothing(tmp_path: Path, redis_server: RedisServer,
                                                               start_shipper: StartShipper) -> None:
    """The log was rotated while the shipper ran, nothing written since: its last entry is the `rotated`
    notice at the end of what is now NAME.1. A restart reports neither a second rotation nor a gap. (The
    first shipper lets the renamed file go 0.2 s after its last write, not 5 s: the notice comes sooner.)"""
    log, shipper = shipping_a_and_b(tmp_path, redis_server, start_shipper, env={"LOGTAIL_ROTATE_WAIT": "0.2"})
    log.rename(tmp_path / "app.log.1")
    log.write_text("")
    wait_for(lambda: "rotated" in kinds(redis_server), 20, 0.05, "the rotated notice")
    shipper = restart_idle(shipper, start_shipper, redis_server, log)
    shipper = restart_idle(shipper, start_shipper, redis_server, log)
    append(log, ["c"])
    wait_shipped(redis_server, "web1", "app.log", ["a", "b", "c"])
    assert kinds(redis_server) == ["lines", "rotated", "lines"]


@pytest.mark.slow
def test_an_idle_restart_after_a_rotation_while_stopped_reports_it_once(
        tmp_path: Path, redis_server: RedisServer, start_shipper: StartShipper) -> None:
    log, shipper = shipping_a_and_b(tmp_path, redis_server, start_shipper)
    shipper.kill(signal.SIGTERM)
    log.rename(tmp_path / "app.log.1")
    log.write_text("")
    shipper = start_shipper(str(log), "--host-name", "web1", "--redis", redis_server.url)
    wait_for(lambda: "rotated" in kinds(redis_server), 20, 0.05, "the rotated notice")
    shipper = restart_idle(shipper, start_shipper, redis_server, log)
    append(log, ["c"])
    wait_shipped(redis_server, "web1", "app.log", ["a", "b", "c"])
    assert kinds(redis_server) == ["lines", "rotated", "lines"]
