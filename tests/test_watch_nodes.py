"""Many web nodes, one alert: two `serve --redis` nodes evaluate the same shipped lines, one alert is sent
(logtail/watches/coordination.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.receiver import Receiver
from tests.redis_support import RedisServer, Shipper
from tests.support import LogtailServer, wait_for


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def node_config(tmp_path: Path, receiver: Receiver, i: int, cooldown: str) -> Path:
    path = tmp_path / f"node{i}.toml"
    path.write_text(f"""
[destinations.hook]
url = "{receiver.url}"
[watches.errors]
logs = ["app.log@*"]
q = "ERROR"
threshold = 3
window = "1m"
cooldown = "{cooldown}"
notify = ["hook"]
""")
    return path


def matches(node: LogtailServer) -> int:
    (watch,) = httpx.get(f"{node.url}/api/watches", timeout=5).json()
    return int(watch["matches"])


@pytest.mark.parametrize("cooldown", ["1m", "0s"])
def test_two_nodes_send_one_alert(tmp_path: Path, receiver: Receiver, redis_server: RedisServer,
                                  start_shipper: Callable[..., Shipper],
                                  start_server: Callable[..., LogtailServer], cooldown: str) -> None:
    log = tmp_path / "app.log"
    log.write_text("ERROR shipped before the nodes started: not news\n")
    start_shipper(str(log), "--host-name", "web1", "--redis", redis_server.url)
    nodes = [start_server("--config", str(node_config(tmp_path, receiver, i, cooldown)),
                          env={"LOGTAIL_REDIS": redis_server.url}) for i in range(2)]
    for node in nodes:
        wait_for(lambda node=node: any(info["name"] == "app.log@web1"  # type: ignore[misc]
                                       for info in httpx.get(f"{node.url}/api/logs").json()),
                 timeout=30, what="the shipped log discovered")
    with log.open("a") as f:
        f.write("ERROR 1\nERROR 2\nERROR 3\n")
    for node in nodes:
        wait_for(lambda node=node: matches(node) == 3, timeout=20, what="both nodes counting")  # type: ignore[misc]
    wait_for(lambda: receiver.requests, what="the alert")
    time.sleep(1.0)  # a second node's alert, if it were sent, has had time to arrive
    assert [a["count"] for a in receiver.alerts()] == [3]
    claimed = [node for node in nodes if "is sent by another node" in node.output()]
    assert len(claimed) == 1
