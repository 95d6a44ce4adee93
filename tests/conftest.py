from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.redis_support import RedisServer, Shipper
from tests.support import Certificate, LogtailServer, require_tool

# The longest modules first (xdist hands them out in this order); one SSL context for httpx clients.
pytest_plugins = ["tests.order", "tests.httpx_tls"]


@pytest.fixture
def run_server(tmp_path: Path) -> Iterator[Callable[[LogtailServer], LogtailServer]]:
    """Start a LogtailServer the test has built (arguments, user, environment); every server started is
    stopped afterwards, also when the test stopped it itself. Each one's output goes to its own directory,
    out of reach of a glob over tmp_path and kept when a test starts a server again on the same port."""
    servers: list[LogtailServer] = []

    def run(server: LogtailServer) -> LogtailServer:
        servers.append(server)
        log_dir = tmp_path / f"server-{len(servers)}"
        log_dir.mkdir()
        return server.start(log_dir)

    try:
        yield run
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def start_server(run_server: Callable[[LogtailServer], LogtailServer]) -> Callable[..., LogtailServer]:
    """Start `logtail serve ARGS...` on a free port (keyword arguments go to LogtailServer)."""

    def start(*args: str, **kwargs: Any) -> LogtailServer:
        return run_server(LogtailServer(list(args), **kwargs))

    return start


@pytest.fixture
def serve_app_log(start_server: Callable[..., LogtailServer],
                  tmp_path: Path) -> Callable[..., tuple[LogtailServer, Path]]:
    """A server on a new, empty logs/app.log with `--backlog 0` and ARGS (keyword arguments go to
    LogtailServer): (server, log)."""

    def start(*args: str, **kwargs: Any) -> tuple[LogtailServer, Path]:
        logs = tmp_path / "logs"
        logs.mkdir()
        log = logs / "app.log"
        log.touch()
        return start_server(str(log), "--backlog", "0", *args, **kwargs), log

    return start


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


@pytest.fixture(scope="session")
def nginx_binary() -> str:
    return require_tool("nginx", "nginx-light")


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A throwaway self-signed certificate for 127.0.0.1, standing in for certbot's."""
    openssl = require_tool("openssl", "openssl")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "fullchain.pem", directory / "privkey.pem"
    subprocess.run([openssl, "req", "-x509", "-nodes", "-days", "2",
                    "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return Certificate(cert, key)
