"""The many-hosts deployment as shipped in deploy/many-hosts/: Redis with the shipped ACL users, two shippers,
two web nodes behind a real nginx running the shipped site file (round robin), browsers resuming on either
node."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from logtail.demo_hosts import runnable_nginx_conf
from logtail.sources.redis import keys
from logtail.sources.redis.hosts import heartbeat_fields
from tests.redis_support import RedisServer, Shipper, listed
from tests.streams import SSEClient, append, gauge
from tests.support import Certificate, LogtailServer, free_port, wait_for

pytestmark = [pytest.mark.nginx, pytest.mark.slow]

DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "many-hosts"
SHIP_USERS = {host: (f"logtail-ship-{host}", f"CHANGE-ME-{host}") for host in ("web1", "web2")}
WEB_USER = ("logtail-web", "CHANGE-ME-web")
ADMIN_USER = ("logtail-admin", "CHANGE-ME-admin")


@pytest.fixture
def acl_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """redis-server with the shipped users.acl, plus an admin user for the test's own checks."""
    acl = tmp_path / "users.acl"
    acl.write_text((DEPLOY / "users.acl").read_text() + "\nuser test-admin on >admin ~* &* +@all\n")
    server = RedisServer(tmp_path / "redis", aclfile=acl, auth=("test-admin", "admin")).start()
    try:
        yield server
    finally:
        server.stop()


def test_the_shipped_acl_users_can_do_their_job_and_nothing_else(acl_redis: RedisServer) -> None:
    port = acl_redis.port
    shipper = redis.Redis(port=port, username=SHIP_USERS["web1"][0], password=SHIP_USERS["web1"][1])
    web = redis.Redis(port=port, username=WEB_USER[0], password=WEB_USER[1])
    shipper.xadd("logtail:stream:web1:a", {"lines": "x"})
    shipper.hset("logtail:host:web1", "last_seen", "1")
    shipper.hset("logtail:logs", "a@web1", "{}")
    assert web.xrange("logtail:stream:web1:a") and list(web.scan_iter(match="logtail:host:*")) == [b"logtail:host:web1"]
    for forbidden in (lambda: shipper.set("other", "x"), lambda: shipper.xadd("other", {"a": "b"}),
                      lambda: shipper.xadd("logtail:stream:web2:a", {"lines": "forged"}),
                      lambda: shipper.hset("logtail:host:web2", "last_seen", "1"),
                      lambda: shipper.hgetall("logtail:logs"), lambda: shipper.flushall(),
                      lambda: web.xadd("logtail:stream:h:a", {"lines": "forged"}),
                      lambda: web.hset("logtail:logs", "a", "b"), lambda: web.delete("logtail:stream:web1:a"),
                      lambda: web.get("other")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            forbidden()
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(port=port).ping()


def test_the_shipped_admin_user_forgets_a_host_and_can_do_nothing_else(acl_redis: RedisServer) -> None:
    """`logtail hosts --forget` as the shipped `logtail-admin` user (docs/many-hosts.md, walkthrough step 6): the
    host's stream, registry record and host record go, another host's stay; the user can touch nothing else."""
    port = acl_redis.port
    now = time.time()
    for host in ("web1", "web2"):
        shipper = redis.Redis(port=port, username=SHIP_USERS[host][0], password=SHIP_USERS[host][1])
        shipper.xadd(keys.stream_key(host, "app.log"), keys.line_fields(["x"], [], "0123456789ab", 2))
        shipper.hset(keys.host_key(host), mapping=heartbeat_fields("0.1.0", now, 10, {"app.log": {}}, now))
        shipper.hset(keys.LOGS_KEY, keys.shipped_name(host, "app.log"),
                     keys.registry_value(host, "app.log", "/var/log/app.log", now))
    done = subprocess.run([sys.executable, "-m", "logtail", "hosts", "--forget", "web1"], capture_output=True,
                          text=True, timeout=30, env={**os.environ, "LOGTAIL_REDIS": acl_redis.url_for(*ADMIN_USER)})
    assert (done.returncode, done.stdout.strip()) == (0, "forgot host web1: app.log"), done.stderr
    admin = redis.Redis(port=port, username="test-admin", password="admin")
    assert sorted(admin.scan_iter(match="logtail:*")) == [b"logtail:host:web2", b"logtail:logs",
                                                          b"logtail:stream:web2:app.log"]
    assert list(admin.hkeys(keys.LOGS_KEY)) == [b"app.log@web2"]
    forgetter = redis.Redis(port=port, username=ADMIN_USER[0], password=ADMIN_USER[1])
    for forbidden in (lambda: forgetter.set("other", "x"), lambda: forgetter.delete("other"),
                      lambda: forgetter.xadd("logtail:stream:web2:app.log", {"lines": "forged"}),
                      lambda: forgetter.hset(keys.LOGS_KEY, "a", "b"), lambda: forgetter.flushall()):
        with pytest.raises(redis.exceptions.NoPermissionError):
            forbidden()


async def test_two_nodes_behind_nginx_resume_exactly_on_either(
        tmp_path: Path, acl_redis: RedisServer, start_shipper: Callable[..., Shipper],
        start_server: Callable[..., LogtailServer], nginx_binary: str) -> None:
    logs = {}
    for host in ("web1", "web2"):
        (tmp_path / host).mkdir()
        logs[host] = tmp_path / host / "app.log"
        logs[host].write_text("")
        start_shipper(str(logs[host]), "--host-name", host, env={"LOGTAIL_REDIS": acl_redis.url_for(*SHIP_USERS[host])})
    web_url = acl_redis.url_for(*WEB_USER)
    nodes = [start_server("--root-path", "/logs", env={"LOGTAIL_REDIS": web_url}, root_path="/logs")
             for _ in range(2)]
    for node in nodes:
        listed(node, "app.log@web1", "app.log@web2")
    http_port = free_port()
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    (prefix / "nginx.conf").write_text(runnable_nginx_conf((DEPLOY / "nginx.conf").read_text(), prefix,
                                                           (nodes[0].port, nodes[1].port), f"127.0.0.1:{http_port}"))
    nginx = subprocess.Popen([nginx_binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e",
                              str(prefix / "error.log"), "-g", "daemon off;"], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{http_port}/logs"
    try:
        wait_for(lambda: _ok(f"{base}/healthz"), 10, 0.05, "nginx")
        stream = f"{base}/api/stream?log=app.log@web1&log=app.log@web2&backlog=0"
        # Two streams at once: round robin puts one on each node.
        async with SSEClient(stream) as first, SSEClient(stream) as other:
            await first.wait(lambda: all(gauge(n.url) == 1 for n in nodes), 15, "one stream on each node")
            append(logs["web1"], ["a1", "a2"])
            append(logs["web2"], ["b1"])
            await first.wait_lines(3, within=20)
            await other.wait_lines(3, within=20)
            resume = first.last_id()
        assert resume is not None
        sent = {"web1": ["a1", "a2"], "web2": ["b1"]}
        for round_ in range(3):  # reconnects land on both nodes in turn
            new = {"web1": [f"a-{round_}-{i}" for i in range(5)], "web2": [f"b-{round_}-{i}" for i in range(3)]}
            for host in ("web1", "web2"):
                append(logs[host], new[host])
                sent[host] += new[host]
            wait_for(lambda: all(len(acl_redis.lines(h, "app.log")) == len(sent[h]) for h in sent), 20, 0.1, "shipped")
            async with SSEClient(stream, headers={"Last-Event-ID": resume}) as again:
                await again.wait_lines(8, within=20)
                await asyncio.sleep(0.3)  # nothing more may come: exactly the lines after the id
                assert again.lines("app.log@web1") == new["web1"]
                assert again.lines("app.log@web2") == new["web2"]
                resume = again.last_id() or resume
    finally:
        if nginx.poll() is None:
            os.killpg(nginx.pid, 15)
            nginx.wait(10)


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


async def test_rediss_tls_end_to_end(tmp_path: Path, certificate: Certificate,
                                     start_shipper: Callable[..., Shipper],
                                     start_server: Callable[..., LogtailServer]) -> None:
    """rediss:// with the CA given in the URL, from the shipper and the web node."""
    server = RedisServer(tmp_path / "redis", tls=(certificate.cert, certificate.key)).start()
    try:
        url = f"rediss://127.0.0.1:{server.port}/0?ssl_ca_certs={certificate.cert}"
        log = tmp_path / "app.log"
        log.write_text("")
        start_shipper(str(log), "--host-name", "web1", env={"LOGTAIL_REDIS": url})
        node = start_server("--backlog", "0", env={"LOGTAIL_REDIS": url})
        listed(node, "app.log@web1")
        async with SSEClient(f"{node.url}/api/logs/app.log@web1/stream") as client:
            await asyncio.sleep(0.2)
            append(log, ["over TLS"])
            assert await client.wait_lines(1, within=20) == ["over TLS"]
    finally:
        server.stop()
