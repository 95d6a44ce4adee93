"""Test support for many hosts: a real `redis-server` and real `logtail ship` processes.

redis-server is started on a free loopback port in its own temp directory (`--save ''`; AOF with
`appendfsync always` when a test restarts it and expects nothing lost) and stopped by PID. A missing
redis-server fails in CI and skips elsewhere, with the command that installs it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import redis

from logtail.sources.redis import keys
from tests.streams import counter
from tests.support import LogtailServer, free_port, wait_for


def redis_binary() -> str:
    found = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK)
                                             else None)
    if found:
        return found
    message = ("redis-server not found: install it with `scripts/setup --system` "
               "(or `sudo apt-get install redis-server`)")
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


class RedisServer:
    def __init__(self, directory: Path, aof: bool = False, aclfile: Path | None = None,
                 auth: tuple[str, str] | None = None, tls: tuple[Path, Path] | None = None,
                 bind: tuple[str, ...] = ("127.0.0.1",)) -> None:
        self.binary = redis_binary()
        self.bind = bind
        self.tls = tls  # certificate and key: TLS only, no plain port
        self.aclfile = aclfile
        self.auth = auth  # the test's own user, when the ACL file turns the default user off
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.aof = aof
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def url_for(self, user: str, password: str) -> str:
        return f"redis://{user}:{password}@127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        args = [self.binary, "--port", str(self.port), "--bind", " ".join(self.bind), "--save", "",
                "--dir", str(self.dir), "--daemonize", "no", "--logfile", str(self.dir / "redis.log")]
        args += ["--appendonly", "yes", "--appendfsync", "always"] if self.aof else ["--appendonly", "no"]
        args += ["--aclfile", str(self.aclfile)] if self.aclfile else []
        if self.bind != ("127.0.0.1",):
            args += ["--protected-mode", "no"]  # the other address is a test's own veth pair, not a network
        if self.tls:
            cert, key = map(str, self.tls)
            args[1:3] = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", cert, "--tls-key-file", key,
                         "--tls-ca-cert-file", cert, "--tls-auth-clients", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        try:
            wait_for(self._ready, 10, 0.02, f"redis-server on port {self.port}")
        except BaseException:
            self.stop()  # a server that never answered is not left running
            raise
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"redis-server exited: {(self.dir / 'redis.log').read_text(errors='replace')}")
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def client(self) -> redis.Redis:
        user, password = self.auth or (None, None)
        tls = {"ssl": True, "ssl_ca_certs": str(self.tls[0])} if self.tls else {}
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5, decode_responses=False, username=user,
                           password=password, **tls)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None

    # --- reading what was shipped ------------------------------------------------------------------------

    def entries(self, host: str, name: str) -> list[keys.Entry]:
        return [keys.decode_entry(i, f) for i, f in self.client().xrange(keys.stream_key(host, name), "-", "+")]

    def lines(self, host: str, name: str) -> list[str]:
        return [line.text for e in self.entries(host, name) for line in e.lines(name)]


class Shipper:
    """A `python -m logtail ship ...` process in its own session, stopped by its process group."""

    def __init__(self, args: list[str], log_dir: Path, env: dict[str, str] | None = None,
                 cwd: Path | None = None, prefix: tuple[str, ...] = ()) -> None:
        self.args = [*prefix, sys.executable, "-m", "logtail", "ship", *args]  # prefix: e.g. ip netns exec NS
        self.log_path = log_dir / f"logtail-ship-{free_port()}.log"
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Shipper:
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd,
                                         start_new_session=True)
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


__all__ = ["LogtailServer", "RedisServer", "Shipper"]


def listed(node: LogtailServer, *names: str) -> dict[str, dict[str, object]]:
    """/api/logs of `node` by name, once every one of `names` is there (new logs appear within seconds)."""
    def check() -> dict[str, dict[str, object]] | None:
        logs = {x["name"]: x for x in httpx.get(f"{node.url}/api/logs", timeout=5).json()}
        return logs if all(n in logs for n in names) else None
    return wait_for(check, 30, 0.1, f"{names} listed by {node.url}")


def read_from_node(node: LogtailServer, name: str, count: int) -> None:
    wait_for(lambda: counter(node.url, "logtail_lines_read_total", name) >= count, 30, 0.1,
             f"{count} lines of {name} read by {node.url}")


def wait_shipped(redis: RedisServer, host: str, name: str, expected: list[str], timeout: float = 30) -> None:
    def done() -> bool:
        got = redis.lines(host, name)
        assert len(got) <= len(expected) and got == expected[:len(got)], "a line was lost, repeated or reordered"
        return got == expected
    wait_for(done, timeout, 0.1, f"{len(expected)} lines of {name}@{host} in Redis")
