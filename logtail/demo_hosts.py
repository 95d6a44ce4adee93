"""`logtail demo --many-hosts`: the many-hosts deployment on one machine, to see it work in one command.

A throwaway redis-server, two "hosts" (web1, web2), each a directory with a writer appending to its logs
and a `logtail ship` process, two web nodes (`logtail serve --redis`) and nginx in front of them running the
shipped deploy/many-hosts/nginx.conf with its paths and ports substituted (`runnable_nginx_conf`, which the
tests use too). Every process is started in its own session and stopped by its PID on the way out.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path

from logtail.config import ConfigError
from logtail.demo import write_forever
from logtail.paths import resource_dir

HOSTS = ("web1", "web2")
LOGS = ("app.log", "jobs.jsonl", "access.log")


def runnable_nginx_conf(text: str, prefix: Path, node_ports: tuple[int, int], listen: str) -> str:
    """deploy/many-hosts/nginx.conf with its system paths moved under `prefix`, the nodes' ports and the
    listen address replaced; each replaced line must be there exactly once."""
    user = "user root;" if os.geteuid() == 0 else ""  # nginx ignores `user` unless started as root
    replacements = [
        (r"user www-data;", user),
        (r"pid /run/logtail-nginx\.pid;", f"pid {prefix}/nginx.pid;"),
        (r"error_log /var/log/nginx/logtail-error\.log;", f"error_log {prefix}/error.log;"),
        (r"access_log /var/log/nginx/logtail-access\.log;", f"access_log {prefix}/access.log;"),
        (r"client_body_temp_path /var/lib/nginx/body;",
         f"client_body_temp_path {prefix}/body; fastcgi_temp_path {prefix}/fastcgi; uwsgi_temp_path "
         f"{prefix}/uwsgi; scgi_temp_path {prefix}/scgi;"),
        (r"proxy_temp_path /var/lib/nginx/proxy;", f"proxy_temp_path {prefix}/proxy;"),
        (r"server 127\.0\.0\.1:8001;", f"server 127.0.0.1:{node_ports[0]};"),
        (r"server 127\.0\.0\.1:8002;", f"server 127.0.0.1:{node_ports[1]};"),
        (r"listen 80;", f"listen {listen};"),
    ]
    for pattern, replacement in replacements:
        text, count = re.subn(pattern, replacement, text)
        if count != 1:
            raise ValueError(f"nginx.conf has {count} lines matching {pattern!r}, expected exactly one")
    return text


def shipped_nginx_conf() -> str:
    return (resource_dir("deploy") / "many-hosts" / "nginx.conf").read_text()


def find_tools() -> tuple[str, str]:
    redis = shutil.which("redis-server")
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    missing = [name for name, found in (("redis-server", redis), ("nginx", nginx)) if not found]
    if redis is None or nginx is None:
        raise ConfigError(f"demo --many-hosts needs {' and '.join(missing)}: install with `sudo apt-get install "
                          "redis-server nginx-light` (or `scripts/setup --system`)")
    return redis, nginx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_many_hosts_demo(host: str, port: int, rate: float) -> None:
    redis_bin, nginx_bin = find_tools()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with tempfile.TemporaryDirectory(prefix="logtail-demo-hosts-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        redis_port = free_port()
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        procs = [stack.enter_context(_process(
            [redis_bin, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", tmp], root / "redis.log"))]
        _wait_until(partial(_listening, redis_port), f"redis-server listening on port {redis_port}", procs, 10)
        for name in HOSTS:
            directory = root / name
            directory.mkdir()
            for log in LOGS:
                (directory / log).touch()
            writer = threading.Thread(target=write_forever, args=(directory, rate, stop), daemon=True)
            writer.start()
            procs.append(stack.enter_context(_process(
                [sys.executable, "-m", "logtail", "ship", *(str(directory / log) for log in LOGS), "--host-name",
                 name, "--redis", redis_url, "--host-heartbeat", "2"], root / f"ship-{name}.log")))
        node_ports = (free_port(), free_port())
        for node_port in node_ports:
            procs.append(stack.enter_context(_process(
                [sys.executable, "-m", "logtail", "serve", "--port", str(node_port), "--root-path", "/logs",
                 "--redis", redis_url], root / f"node-{node_port}.log")))
        prefix = root / "nginx"
        prefix.mkdir()
        conf = prefix / "nginx.conf"
        conf.write_text(runnable_nginx_conf(shipped_nginx_conf(), prefix, node_ports, f"{host}:{port}"))
        procs.append(stack.enter_context(_process(
            [nginx_bin, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log"), "-g", "daemon off;"],
            root / "nginx.log")))
        for node_port in node_ports:  # the address is given once both nodes serve (and nginx with them)
            url = f"http://127.0.0.1:{node_port}/logs/readyz"
            _wait_until(partial(_ready, url), f"{url} answering 200", procs, 60)
        print(f"logtail demo --many-hosts: open http://{host}:{port}/logs/  (hosts {', '.join(HOSTS)} shipping to "
              f"Redis on port {redis_port}; two nodes on ports {node_ports[0]} and {node_ports[1]} behind nginx; "
              f"files and logs in {tmp}; Ctrl-C to stop)", flush=True)
        while not stop.wait(0.5):
            for proc in procs:
                if proc.poll() is not None:
                    print(f"logtail demo: {Path(_program(proc)).name} exited ({proc.returncode}); see the logs "
                          f"in {tmp}", file=sys.stderr, flush=True)
                    stop.set()


def _program(proc: subprocess.Popen[bytes]) -> str:
    args = proc.args
    return str(args[0]) if isinstance(args, list) else str(args)


@contextmanager
def _process(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def _wait_until(ready: Callable[[], bool], what: str, procs: list[subprocess.Popen[bytes]],
                timeout: float) -> None:
    """Poll `ready` (an OSError is a "not yet") until it is true; one of the demo's processes exiting, or
    `timeout` seconds, ends the demo."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return
        except OSError:
            pass
        stopped = next((proc for proc in procs if proc.poll() is not None), None)
        if stopped is not None or time.monotonic() > deadline:
            why = (f"{_program(stopped)} exited ({stopped.returncode})" if stopped
                   else f"no {what} after {timeout:.0f} s")
            raise ConfigError(f"the demo did not start: {why}")
        time.sleep(0.05)


def _listening(port: int) -> bool:
    socket.create_connection(("127.0.0.1", port), timeout=1).close()
    return True


def _ready(url: str) -> bool:
    """Whether a node's /readyz answers 200 (it has read Redis's registry of shipped logs); a 503 is urllib's
    HTTPError, an OSError."""
    with urllib.request.urlopen(url, timeout=2) as answer:
        return bool(answer.status == 200)
