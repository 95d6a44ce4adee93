"""Test support: run a real `logtail serve` process on a free loopback port and wait on conditions.

Used by the end-to-end tests (HTTP streams, browser, nginx, shutdown). The process is started in its own
process group and stopped by that group in `stop()`, never by name.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

T = TypeVar("T")

# The server fixtures of conftest.py, as test functions' parameters see them.
Start = Callable[..., "LogtailServer"]  # start_server(*args, **LogtailServer keywords)
Run = Callable[["LogtailServer"], "LogtailServer"]  # run_server(a LogtailServer built by the test)
ServeAppLog = Callable[..., tuple["LogtailServer", Path]]  # serve_app_log(*args) -> (server, logs/app.log)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_tool(name: str, package: str, directories: Sequence[str] = ("/usr/sbin", "/usr/bin")) -> str:
    """The path of a system tool, on PATH or in one of `directories`; when it is missing, fail in CI and skip
    elsewhere."""
    found = shutil.which(name) or next(
        (p for p in (f"{d}/{name}" for d in directories) if os.access(p, os.X_OK)), None)
    if found:
        return found
    message = (f"{name} not found: install it with `scripts/setup --system` "
               f"(or `sudo apt-get install {package}`)")
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def wait_for(check: Callable[[], T | None], timeout: float = 10.0, interval: float = 0.02, what: str = "") -> T:
    """Poll `check` until it returns something truthy or the deadline passes (then fail)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        time.sleep(interval)


def stop_group(proc: subprocess.Popen[bytes], what: str, output: Callable[[], str], timeout: float = 10.0) -> None:
    """SIGTERM to the process group of `proc`, SIGKILL after `timeout`. A process that had to be killed is
    reported as a warning (pytest's summary lists it) with the end of its output: a stop that hangs is a bug
    to find, and would otherwise only show as a slow teardown."""
    try:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                warnings.warn(f"{what} did not stop within {timeout} s of SIGTERM and was killed; its output "
                              f"ends:\n{output()[-2000:]}", stacklevel=3)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
    except ProcessLookupError:
        pass


class LogtailServer:
    """A `python -m logtail serve ...` subprocess bound to 127.0.0.1:<free port>."""

    def __init__(self, args: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
                 port: int | None = None, root_path: str = "", user: int | None = None) -> None:
        self.fixed_port = port is not None
        self.port = port or free_port()
        self.user = user  # run as this uid (and its gid): tests of file permissions, which root ignores
        self.root_path = root_path
        self.args = [sys.executable, "-m", "logtail", "serve", "--port", str(self.port), *args]
        self.cwd = cwd
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, log_dir: Path, timeout: float = 15.0) -> LogtailServer:
        # free_port() names a port that was free a moment ago; with tests running in parallel another
        # process may bind it first. Then the server exits at once, and a new port is worth a second try.
        for attempt in range(3):
            try:
                return self._start(log_dir, timeout)
            except AssertionError:
                if self.fixed_port or attempt == 2 or "address already in use" not in self.output().lower():
                    raise
                self.port = free_port()
                self.args[self.args.index("--port") + 1] = str(self.port)
        raise AssertionError("unreachable")

    def _start(self, log_dir: Path, timeout: float) -> LogtailServer:
        self.log_path = log_dir / f"logtail-server-{self.port}.log"
        out = self.log_path.open("wb")
        as_user: dict[str, object] = {} if self.user is None else {"user": self.user, "group": self.user,
                                                                   "extra_groups": []}
        self.proc = subprocess.Popen(self.args, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True, **as_user)  # type: ignore[call-overload]
        out.close()
        wait_for(self._healthy, timeout, 0.05, f"logtail on port {self.port} (log: {self.log_path})")
        return self

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"logtail exited with {self.proc.returncode}:\n{self.output()}")
        try:
            return httpx.get(f"{self.url}{self.root_path}/healthz", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def terminate(self) -> None:
        """Send SIGTERM to the server's process group (a graceful stop)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is not None:
            stop_group(self.proc, f"logtail serve on port {self.port}", self.output, timeout)

    def __enter__(self) -> LogtailServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EventReader:
    """Reads an SSE response incrementally with a deadline on every wait (httpx streaming response)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._chunks = response.aiter_text()
        self._buffer = ""
        self.raw = ""

    async def next_event(self, timeout: float = 5.0) -> dict[str, str]:
        import asyncio

        from tests.sse_client import decode_events

        async with asyncio.timeout(timeout):
            while True:
                normalized = self._buffer.replace("\r\n", "\n")
                end = normalized.find("\n\n")
                if end >= 0:
                    block, self._buffer = normalized[: end + 2], normalized[end + 2 :]
                    events = list(decode_events(block))
                    if events:
                        return events[0]
                    continue  # a comment (heartbeat) or retry-only block
                chunk = await self._chunks.__anext__()
                self.raw += chunk
                self._buffer += chunk

    async def events(self, count: int, timeout: float = 10.0, kind: str | None = None) -> list[dict[str, str]]:
        """The next `count` events (of type `kind` if given), within `timeout` seconds overall."""
        import asyncio

        out: list[dict[str, str]] = []
        async with asyncio.timeout(timeout):
            while len(out) < count:
                event = await self.next_event(timeout)
                if kind is None or event.get("event") == kind:
                    out.append(event)
        return out

    async def texts(self, count: int, timeout: float = 10.0) -> list[str]:
        import json

        return [json.loads(e["data"])["text"] for e in await self.events(count, timeout, kind="line")]


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))
