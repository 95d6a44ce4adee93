"""Watches across restarts: positions in --state-dir, the lines written while down evaluated at start, no
alert missed and none doubled (SIGTERM and SIGKILL of a real process)."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.receiver import Receiver
from tests.streams import append
from tests.support import LogtailServer, wait_for


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def setup(tmp_path: Path, receiver: Receiver) -> tuple[Path, Path]:
    log = tmp_path / "app.log"
    log.write_text("INFO started\n")
    config = tmp_path / "logtail.toml"
    config.write_text(f"""
sources = ["app.log"]
state_dir = "{tmp_path / 'state'}"
[destinations.hook]
url = "{receiver.url}"
[watches.errors]
logs = ["app.log"]
q = "ERROR"
threshold = 5
window = "1h"
notify = ["hook"]
""")
    return log, config



def saved(tmp_path: Path) -> dict[str, object]:
    try:
        data = json.loads((tmp_path / "state" / "watches.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}
    assert isinstance(data, dict)
    return data


def saved_offset(tmp_path: Path) -> int:
    position = saved(tmp_path).get("positions", {}).get("app.log")  # type: ignore[attr-defined]
    return int(position.rsplit(":", 1)[1]) if position else -1


def kill(server: LogtailServer, how: signal.Signals) -> None:
    assert server.proc is not None
    os.killpg(server.proc.pid, how)
    server.proc.wait(15)


def caught_up(server: LogtailServer) -> bool:
    return "evaluated up to its live position" in server.output()


def matches(server: LogtailServer) -> int:
    (watch,) = httpx.get(f"{server.url}/api/watches", timeout=5).json()
    return int(watch["matches"])


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_a_burst_split_by_a_restart_alerts_once(
        tmp_path: Path, receiver: Receiver, start_server: Callable[..., LogtailServer], how: signal.Signals) -> None:
    """Three errors before the stop, four while down: one alert of seven at the restart; a second restart
    sends nothing again."""
    log, config = setup(tmp_path, receiver)
    server = start_server("--config", str(config))
    append(log, ["ERROR 1", "ERROR 2", "ERROR 3"])
    wait_for(lambda: saved_offset(tmp_path) == log.stat().st_size, what="the position saved")
    kill(server, how)
    append(log, ["ERROR 4", "INFO x", "ERROR 5", "ERROR 6", "ERROR 7"])
    assert receiver.requests == []
    server = start_server("--config", str(config))
    wait_for(lambda: receiver.requests, what="the alert for the burst")
    (alert,) = receiver.alerts()
    assert alert["count"] == 7 and alert["lines"][-1]["text"] == "ERROR 7"
    assert matches(server) == 4  # since this start: the lines written while it was down
    wait_for(lambda: saved_offset(tmp_path) == log.stat().st_size and not saved(tmp_path)["outbox"],
             what="the delivered alert saved")
    kill(server, how)
    server = start_server("--config", str(config))
    wait_for(lambda: caught_up(server), what="the catch-up")
    append(log, ["INFO after"])
    wait_for(lambda: saved_offset(tmp_path) == log.stat().st_size, what="live again")
    assert matches(server) == 0 and len(receiver.requests) == 1


def test_an_alert_not_delivered_before_a_crash_is_sent_after_it(
        tmp_path: Path, receiver: Receiver, start_server: Callable[..., LogtailServer]) -> None:
    log, config = setup(tmp_path, receiver)
    receiver.stop()  # the destination is down when the alert fires
    server = start_server("--config", str(config))
    append(log, [f"ERROR {i}" for i in range(5)])
    wait_for(lambda: saved(tmp_path).get("outbox"), what="the alert saved, undelivered")
    kill(server, signal.SIGKILL)
    receiver.start()
    server = start_server("--config", str(config))
    wait_for(lambda: receiver.requests, what="the saved alert delivered")
    wait_for(lambda: caught_up(server) and not saved(tmp_path)["outbox"], what="the outbox emptied")
    time.sleep(0.5)  # nothing else may arrive: the lines were evaluated before the crash
    assert [a["count"] for a in receiver.alerts()] == [5]
    assert matches(server) == 0


def test_lines_rotated_away_while_down_are_reported(
        tmp_path: Path, receiver: Receiver, start_server: Callable[..., LogtailServer]) -> None:
    log, config = setup(tmp_path, receiver)
    server = start_server("--config", str(config))
    append(log, ["ERROR 1"])
    wait_for(lambda: saved_offset(tmp_path) == log.stat().st_size, what="the position saved")
    kill(server, signal.SIGTERM)
    log.write_text("")  # truncated while down: the position is gone
    append(log, [f"ERROR again {i}" for i in range(5)])
    start_server("--config", str(config))
    wait_for(lambda: receiver.requests, what="the alert")
    (alert,) = receiver.alerts()
    assert alert["count"] == 6 and "gone" in alert["note"]
