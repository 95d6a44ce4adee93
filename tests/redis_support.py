"""Test support for many hosts: a real `redis-server` and real `logtail ship` processes.

redis-server is started on a free loopback port in its own temp directory (`--save ''`; AOF with
`appendfsync always` when a test restarts it and expects nothing lost) and stopped by PID. A missing
redis-server fails in CI and skips elsewhere, with the command that installs it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import redis
from redis.cluster import ClusterNode

from logtail.sources.redis import keys
from tests.streams import append, counter
from tests.support import LogtailServer, free_port, require_tool, stop_group, wait_for


def redis_binary() -> str:
    return require_tool("redis-server", "redis-server")


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
        self.cluster_args: list[str] = []

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
        args += self.cluster_args
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
        if self.proc is not None:
            stop_group(self.proc, f"logtail ship {' '.join(self.args[-4:])}", self.output)


__all__ = ["LogtailServer", "RedisServer", "Shipper"]


class RedisClusterServers:
    """Three redis-server masters on loopback joined by `redis-cli --cluster create`, each with `replicas`
    replicas. `node_timeout_ms` is the cluster's `cluster-node-timeout`: how long a silent master takes to be
    judged failed and replaced by its replica (small in tests, so a failover takes a second or two)."""

    def __init__(self, directory: Path, replicas: int = 0, node_timeout_ms: int = 15000) -> None:
        self.nodes = [RedisServer(directory / f"node{i}") for i in range(3 * (1 + replicas))]
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}/0"

    def start(self) -> RedisClusterServers:
        for node in self.nodes:
            node.port = cluster_port()
            node.cluster_args = ["--cluster-enabled", "yes", "--cluster-config-file", str(node.dir / "nodes.conf"),
                                 "--cluster-node-timeout", str(self.node_timeout_ms),
                                 # a replica of a SIGKILLed master takes over however stale its data is
                                 "--cluster-replica-validity-factor", "0"]
            node.start()
        cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
        subprocess.run([cli, "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in self.nodes),
                        "--cluster-replicas", str(self.replicas), "--cluster-yes"],
                       check=True, capture_output=True, timeout=60)
        wait_for(self._ok, 20, 0.1, "the cluster state ok")
        wait_for(self._replicas_linked, 20, 0.1, "every replica in sync with its master")
        return self

    def live(self) -> list[RedisServer]:
        return [n for n in self.nodes if n.proc is not None and n.proc.poll() is None]

    def _ok(self) -> bool:
        return all(b"cluster_state:ok" in info(n, "CLUSTER", "INFO") for n in self.live())

    def _replicas_linked(self) -> bool:
        return all(b"master_link_status:up" in info(n, "INFO", "replication") for n in self.live()
                   if n not in self.masters())

    def masters(self) -> list[RedisServer]:
        return [n for n in self.live() if b"role:master" in info(n, "INFO", "replication")]

    def master_of(self, key: str) -> RedisServer:
        port = self.client().get_node_from_key(key).port
        return next(n for n in self.nodes if n.port == port)

    def replica_of(self, master: RedisServer) -> RedisServer:
        ports = {int(r[b"port"] if isinstance(r, dict) else r[1])
                 for r in master.client().execute_command("ROLE")[2]}
        return next(n for n in self.nodes if n.port in ports)

    def kill(self, node: RedisServer) -> None:
        """SIGKILL, by PID: no chance to pass anything more to its replica."""
        assert node.proc is not None
        os.kill(node.proc.pid, signal.SIGKILL)
        node.proc.wait(10)

    def cut_off(self, replica: RedisServer, master: RedisServer) -> None:
        """Stop `replica` (SIGSTOP) and have its master drop the link: what the master acknowledges from now
        on is not passed on until `resume` lets the replica reconnect (a replica falls behind, for certain)."""
        assert replica.proc is not None
        os.kill(replica.proc.pid, signal.SIGSTOP)
        master.client().client_kill_filter(_type="replica")

    def resume(self, node: RedisServer) -> None:
        assert node.proc is not None
        os.kill(node.proc.pid, signal.SIGCONT)

    def promoted(self, replica: RedisServer, within: float) -> str:
        """Wait for `replica` to be a master and the cluster ok again: by the cluster's own failover, or, if
        that is not done within `within` seconds, by `CLUSTER FAILOVER TAKEOVER` on the replica. Says which."""
        def master() -> bool:
            return b"role:master" in info(replica, "INFO", "replication") and self._ok()
        try:
            wait_for(master, within, 0.05, f"the automatic failover to port {replica.port}")
            return "automatic"
        except AssertionError:
            replica.client().execute_command("CLUSTER", "FAILOVER", "TAKEOVER")
            wait_for(master, 20, 0.05, f"CLUSTER FAILOVER TAKEOVER on port {replica.port}")
            return "takeover"

    def client(self) -> redis.RedisCluster:
        nodes = [ClusterNode("127.0.0.1", n.port) for n in self.live()]
        return redis.RedisCluster(startup_nodes=nodes, socket_timeout=5)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def info(node: RedisServer, *command: str) -> bytes:
    reply = node.client().execute_command(*command)
    if isinstance(reply, dict):  # redis-py parses INFO into a dict
        return "\n".join(f"{k}:{v}" for k, v in reply.items()).encode()
    return reply if isinstance(reply, bytes) else str(reply).encode()


def cluster_port() -> int:
    """A free port P <= 55535 whose cluster bus port P + 10000 is free too."""
    while True:
        port = free_port()
        if port > 55535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


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

def paced_writer(path: Path, lines: list[str], chunk: int = 500) -> threading.Thread:
    def write() -> None:
        for i in range(0, len(lines), chunk):
            append(path, lines[i:i + chunk])
            time.sleep(0.01)  # a burst spread over a moment, so that something can happen in its middle
    thread = threading.Thread(target=write)
    thread.start()
    return thread


def shipping_a_and_b(tmp_path: Path, redis: RedisServer, start_shipper: Callable[..., Shipper],
                     env: dict[str, str] | None = None) -> tuple[Path, Shipper]:
    """app.log shipped as host web1 by a shipper (its `env` added) that has stored its first lines, `a` and `b`."""
    log = tmp_path / "app.log"
    log.write_text("")
    shipper = start_shipper(str(log), "--host-name", "web1", "--redis", redis.url, env=env)
    append(log, ["a", "b"])
    wait_shipped(redis, "web1", "app.log", ["a", "b"])
    return log, shipper


def one_host(tmp_path: Path, redis: RedisServer, start_shipper: Callable[..., Shipper],
             start_server: Callable[..., LogtailServer],
             *node_args: str) -> tuple[Path, LogtailServer]:
    """An empty app.log shipped as host web1, and a web node (`node_args`) that lists it."""
    log = tmp_path / "app.log"
    log.write_text("")
    start_shipper(str(log), "--host-name", "web1", "--redis", redis.url)
    node = start_server("--redis", redis.url, *node_args)
    listed(node, "app.log@web1")
    return log, node


async def body_lines(url: str, count: int, within: float = 15) -> list[str]:
    """The first `count` lines of a text or NDJSON stream."""
    out: list[str] = []
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None)) as client, \
            client.stream("GET", url) as response:
        assert response.status_code == 200, await response.aread()
        async with asyncio.timeout(within):
            async for line in response.aiter_lines():
                out.append(line)
                if len(out) == count:
                    return out
    return out
