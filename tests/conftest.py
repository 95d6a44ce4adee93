from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.redis_support import RedisServer, Shipper
from tests.support import LogtailServer


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., LogtailServer]]:
    """Start `logtail serve ARGS...` on a free port; every server started is stopped afterwards."""
    servers: list[LogtailServer] = []

    def start(*args: str, **kwargs: object) -> LogtailServer:
        server = LogtailServer(list(args), **kwargs)  # type: ignore[arg-type]
        servers.append(server)
        return server.start(tmp_path)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def start_shipper(tmp_path: Path) -> Iterator[Callable[..., Shipper]]:
    shippers: list[Shipper] = []

    def start(*args: str, **kwargs: Any) -> Shipper:
        shipper = Shipper(list(args), tmp_path, **kwargs)
        shippers.append(shipper)
        return shipper.start()

    yield start
    for shipper in shippers:
        shipper.stop()
