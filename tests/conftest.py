from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

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
