"""deploy/many-hosts/ as shipped, and `logtail demo --many-hosts` (logtail/demo_hosts.py): nginx accepts the
full config, and the demo starts Redis, two shipping hosts, two nodes and nginx, and serves a shipped line."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from logtail.demo_hosts import runnable_nginx_conf
from tests.redis_support import redis_binary
from tests.support import free_port, stop_group, wait_for

pytestmark = pytest.mark.nginx
CONF = Path(__file__).resolve().parent.parent / "deploy" / "many-hosts" / "nginx.conf"


def test_nginx_accepts_the_full_config_with_paths_substituted(tmp_path: Path, nginx_binary: str) -> None:
    conf = tmp_path / "nginx.conf"
    conf.write_text(runnable_nginx_conf(CONF.read_text(), tmp_path, (8001, 8002), f"127.0.0.1:{free_port()}"))
    done = subprocess.run([nginx_binary, "-t", "-p", str(tmp_path), "-c", str(conf), "-e",
                           str(tmp_path / "error.log")], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr and "test is successful" in done.stderr
    text = CONF.read_text()
    assert "keepalive 8;" in text and "proxy_buffering off;" in text and "events {" in text


def test_a_line_the_config_no_longer_has_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="listen 80"):
        runnable_nginx_conf(CONF.read_text().replace("listen 80;", "listen 81;"), tmp_path, (1, 2), "x")


@pytest.mark.slow
async def test_the_demo_starts_and_serves_a_shipped_line_through_nginx(tmp_path: Path,
                                                                       nginx_binary: str) -> None:
    redis_binary()
    port = free_port()
    out = tmp_path / "demo.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "logtail", "demo", "--many-hosts", "--port", str(port),
                                 "--rate", "20"], cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}/logs"
    try:
        def listed() -> bool:
            # nginx takes turns between the two nodes: both must list the logs before the stream below.
            for _ in range(2):
                try:
                    names = {x["name"] for x in httpx.get(f"{base}/api/logs", timeout=2).json()}
                except (httpx.HTTPError, ValueError):
                    return False
                if not {"app.log@web1", "app.log@web2"} <= names:
                    return False
            return True
        # The demo gives its address once both nodes are ready (each has read Redis's registry).
        await asyncio.to_thread(wait_for, lambda: "open http://" in out.read_text(errors="replace"), 60, 0.1,
                                "the demo's address")
        await asyncio.to_thread(wait_for, listed, 40, 0.2, "the demo's shipped logs through nginx")
        async with httpx.AsyncClient(timeout=10) as client, \
                client.stream("GET", f"{base}/api/stream?log=app.log@web1&log=app.log@web2&backlog=0"
                                     "&format=ndjson") as response:
            seen: set[str] = set()
            async with asyncio.timeout(20):
                async for row in response.aiter_lines():
                    seen.add(json.loads(row).get("log", ""))
                    if {"app.log@web1", "app.log@web2"} <= seen:
                        break
        redis_port = int(re.search(r"Redis on port (\d+)", out.read_text())[1])  # type: ignore[index]
    finally:
        stop_group(proc, "logtail demo --many-hosts", lambda: out.read_text(errors="replace"), 30)
    assert proc.returncode != -signal.SIGKILL, "the demo did not stop on SIGTERM"
    # Everything it started is gone with it.
    assert subprocess.run(["redis-cli", "-p", str(redis_port), "ping"], capture_output=True, text=True,
                          timeout=10).stdout.strip() != "PONG"
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{base}/healthz", timeout=2)


def test_the_demo_says_what_is_missing(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # neither redis-server nor nginx there
    done = subprocess.run([sys.executable, "-m", "logtail", "demo", "--many-hosts"], capture_output=True, text=True,
                          timeout=30, env=env)
    assert done.returncode == 2 and "demo --many-hosts needs redis-server" in done.stderr
    assert "apt-get install redis-server nginx-light" in done.stderr and "Traceback" not in done.stderr


SANDBOX = ("ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "NoNewPrivileges=yes",
           "CapabilityBoundingSet=", "MemoryDenyWriteExecute=yes", "SystemCallFilter=@system-service",
           "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX")


def sandbox(unit: str) -> list[str]:
    return [x for x in unit[unit.index("# --- Sandbox ---"):].splitlines() if "=" in x and not x.startswith("#")]


@pytest.mark.parametrize("unit", ["logtail-node.service", "logtail-ship.service"])
def test_the_systemd_units_verify_and_are_sandboxed_like_the_single_host_one(tmp_path: Path, unit: str) -> None:
    text = (CONF.parent / unit).read_text()
    single = (CONF.parent.parent / "systemd" / "logtail.service").read_text()
    assert sandbox(text) == sandbox(single) and all(line in text.splitlines() for line in SANDBOX)
    command = "ship --config /etc/logtail/ship.toml" if "ship" in unit else "serve --config /etc/logtail/node.toml"
    assert f"ExecStart=/opt/logtail/venv/bin/logtail {command}" in text
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed")
    local = tmp_path / unit  # the unit as installed, with this checkout's logtail for the ExecStart check
    local.write_text(text.replace("/opt/logtail/venv/bin/logtail", str(Path(sys.executable).parent / "logtail")))
    done = subprocess.run([analyze, "verify", str(local)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and unit not in done.stderr, done.stderr
