"""The logtail server under test: a subprocess in its own process group, observed through /proc and HTTP."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@cache
def supported_options(module: str) -> frozenset[str]:
    """The long options `python -m <module> serve --help` mentions (empty if the command fails)."""
    try:
        out = subprocess.run(
            [sys.executable, "-m", module, "serve", "--help"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    return frozenset(re.findall(r"(--[a-z][a-z0-9-]*)", out))


def _limits_and_affinity(cores: Sequence[int] | None) -> Callable[[], None]:
    def preexec() -> None:  # runs in the child between fork and exec
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = 1_048_576 if hard == resource.RLIM_INFINITY else hard
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), hard))
        if cores:
            os.sched_setaffinity(0, cores)

    return preexec


class ServerProcess:
    """`python -m logtail serve ...` on 127.0.0.1:<free port>, stopped by process group."""

    def __init__(self, module: str, args: Sequence[str], log_path: Path, cores: Sequence[int] | None) -> None:
        self.port = free_port()
        self.argv = [sys.executable, "-m", module, "serve", *args, "--host", HOST, "--port", str(self.port)]
        self.log_path = log_path
        self.cores = list(cores) if cores else None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 30.0) -> float:
        """Start the server and wait for /healthz; returns the seconds that took."""
        t0 = time.monotonic()
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_limits_and_affinity(self.cores),
            )
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.output_tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if self.healthy():
                    return time.monotonic() - t0
            time.sleep(0.02)
        raise RuntimeError(f"server not healthy after {timeout}s: {self.output_tail()}")

    def healthy(self) -> bool:
        return self.get("/healthz", timeout=1.0)[0] == 200

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        # workers that outlived their parent are still in the group
        for pid in self.group_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def output_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    # -- HTTP ------------------------------------------------------------------------------------------------

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def get_json(self, path: str, timeout: float = 5.0) -> Any:
        status, body = self.get(path, timeout)
        if status != 200:
            raise RuntimeError(f"GET {path}: HTTP {status} {body[:200]!r}")
        return json.loads(body)

    def clients_gauge(self) -> float | None:
        """The `logtail_clients` gauge from /metrics (summed over label sets), None if absent."""
        with contextlib.suppress(OSError, http.client.HTTPException):
            status, body = self.get("/metrics", timeout=2.0)
            if status == 200:
                values = re.findall(rb"^logtail_clients(?:\{[^}]*\})? (\S+)", body, re.MULTILINE)
                return sum(float(v) for v in values) if values else None
        return None

    def wait_clients(self, count: int, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.clients_gauge()
            if value is None or value >= count:
                return value
            time.sleep(0.1)
        return value

    # -- /proc -----------------------------------------------------------------------------------------------

    def group_pids(self) -> list[int]:
        """Every live process in the server's process group (the server and any workers)."""
        if self.proc is None:
            return []
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    with open(f"/proc/{entry}/stat", "rb") as f:
                        fields = f.read().rsplit(b")", 1)[1].split()
                    if int(fields[2]) == self.proc.pid and fields[0] != b"Z":
                        pids.append(int(entry))
        return pids

    def cpu_times(self) -> tuple[float, float]:
        """(user, system) CPU seconds of the whole process group (live processes)."""
        user = system = 0
        for pid in self.group_pids():
            with contextlib.suppress(OSError, IndexError):
                with open(f"/proc/{pid}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
                user += int(fields[11])
                system += int(fields[12])
        return user / CLOCK_TICKS, system / CLOCK_TICKS

    def cpu_seconds(self) -> float:
        return sum(self.cpu_times())

    def rss_kb(self) -> int:
        """Resident memory of the process group (VmRSS summed; shared pages count once per process)."""
        return self._memory_kb("status", "VmRSS:")

    def pss_kb(self) -> int:
        """Proportional memory of the process group (Pss summed: a page shared by k processes counts 1/k)."""
        return self._memory_kb("smaps_rollup", "Pss:")

    def _memory_kb(self, proc_file: str, field: str) -> int:
        total = 0
        for pid in self.group_pids():
            with contextlib.suppress(OSError):
                with open(f"/proc/{pid}/{proc_file}") as f:
                    for line in f:
                        if line.startswith(field):
                            total += int(line.split()[1])
                            break
        return total

    def threads(self) -> int:
        total = 0
        for pid in self.group_pids():
            with contextlib.suppress(OSError):
                total += len(os.listdir(f"/proc/{pid}/task"))
        return total


WEBSOCKETD = "/usr/bin/websocketd"
BASELINE_NAME = "tail -F (websocketd)"


def ensure_websocketd() -> str | None:
    """The websocketd binary, installed from Debian with apt-get when missing and root; None if unavailable."""
    found = shutil.which("websocketd") or (WEBSOCKETD if os.path.exists(WEBSOCKETD) else None)
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", "websocketd"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=300,
            check=False,
        )
    return shutil.which("websocketd")


class WebsocketdProcess(ServerProcess):
    """The baseline: Debian's websocketd (Go) running GNU `tail -n0 -F LOG` (C) for each WebSocket client.

    websocketd starts one `tail` per connection and sends each line of its output as one text message; the
    tails stay in websocketd's process group, so CPU and memory are summed over the server and its tails.
    """

    def __init__(self, binary: str, log: Path, log_path: Path, cores: Sequence[int] | None) -> None:
        super().__init__("logtail", [], log_path, cores)
        self.argv = [
            binary,
            "--address",
            HOST,
            "--port",
            str(self.port),
            "--loglevel",
            "error",
            "tail",
            "-n0",
            "-F",
            str(log),
        ]

    def healthy(self) -> bool:
        return self.get("/", timeout=1.0)[0] > 0  # any answer: it listens (a plain GET gets 404)

    def clients_gauge(self) -> float | None:
        """Connected clients: one `tail` per client runs in the group beside websocketd."""
        return float(max(0, len(self.group_pids()) - 1))
