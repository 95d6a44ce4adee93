"""A shipper in its own network namespace, joined to Redis by a veth pair whose link is cut for 5 s and
restored: nothing is lost (issue: "Tested for real"). Needs root and `ip netns`: required in CI, skipped
elsewhere when missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.redis_support import RedisServer, Shipper, wait_shipped
from tests.streams import append

pytestmark = pytest.mark.slow


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def netns() -> Iterator[tuple[str, str, str]]:
    """A new namespace joined by a veth pair: (namespace, host-side interface, host-side address)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        message = "needs root and iproute2's `ip netns`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    tag = uuid.uuid4().hex[:6]
    ns, outside, inside = f"lt-{tag}", f"lth{tag}", f"ltn{tag}"
    octet = int(tag[:2], 16) % 250 + 1  # a /30 of 10.213.X.0 unlikely to clash with another run
    host_addr, ns_addr = f"10.213.{octet}.1", f"10.213.{octet}.2"
    _ip("netns", "add", ns)
    try:
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", ns)
        _ip("addr", "add", f"{host_addr}/30", "dev", outside)
        _ip("link", "set", outside, "up")
        _ip("-n", ns, "addr", "add", f"{ns_addr}/30", "dev", inside)
        _ip("-n", ns, "link", "set", inside, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        yield ns, outside, host_addr
    finally:
        subprocess.run(["ip", "link", "del", outside], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


def test_link_cut_for_5_seconds_then_restored_loses_nothing(
        tmp_path: Path, netns: tuple[str, str, str], start_shipper: Callable[..., Shipper]) -> None:
    ns, outside, host_addr = netns
    redis = RedisServer(tmp_path / "redis", bind=("127.0.0.1", host_addr)).start()
    try:
        log = tmp_path / "app.log"
        log.write_text("")
        shipper = start_shipper(str(log), "--host-name", "web1", "--redis", f"redis://{host_addr}:{redis.port}/0",
                                prefix=("ip", "netns", "exec", ns))
        lines = [f"line {i}" for i in range(3000)]
        append(log, lines[:1000])
        wait_shipped(redis, "web1", "app.log", lines[:1000])
        _ip("link", "set", outside, "down")
        try:
            append(log, lines[1000:2000])
            time.sleep(5)  # the scenario: the link stays cut for 5 s
            append(log, lines[2000:])
        finally:
            _ip("link", "set", outside, "up")
        wait_shipped(redis, "web1", "app.log", lines, timeout=60)
        assert shipper.proc is not None and shipper.proc.poll() is None, shipper.output()
    finally:
        redis.stop()
