"""logtail benchmark: start a server, append timestamped lines, read them back from many SSE clients.

    .venv/bin/python bench/bench.py --all
    .venv/bin/python bench/bench.py --scenario fanout-1000 --duration 20
    .venv/bin/python bench/bench.py --scenario latency-100 --clients 300 --rate 2000 --json /tmp/r.json

The server runs as `python -m logtail serve` on a free 127.0.0.1 port, pinned to core 0 when there are two
or more cores; the writer (this process) and the reader processes are pinned to the other cores. See
bench/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyspy
from server_process import (
    BASELINE_NAME,
    HOST,
    ServerProcess,
    WebsocketdProcess,
    ensure_websocketd,
    supported_options,
)
from sse_client import ReaderPlan, ReaderPool, StreamPlan, raise_open_files_limit
from targets import issue_table, verdict
from workload import LineWriter, filter_query, format_line, make_payload

BENCH_DIR = Path(__file__).resolve().parent
LOG_NAME = "bench.log"
MEASURED_BUDGET = 10_000  # lines/s parsed in full (JSON, per-line latency) by the readers, summed


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str  # stream | idle | startup | workers
    description: str
    target: str = ""
    clients: int = 1
    rate: float | None = 1000.0  # lines/s; None: as fast as possible
    duration: float = 10.0  # seconds of writing (stream) or of observation (idle)
    lines: int = 1_000_000  # lines written when rate is None
    regex: bool = False
    field: bool = False  # each client a field filter (100 distinct), instead of a regex
    workers: int = 1
    heartbeat: float = 15.0
    files: int = 500  # startup
    drain_timeout: float = 5.0  # seconds to wait for the last line after writing
    standard: bool = True
    fmt: str = "sse"  # the stream's format= (sse or text)
    baseline: bool = False  # also run the `tail -F` baseline under websocketd (when --baseline allows)
    search_mb: int = 1024  # search: size of the searched file


SCENARIOS = {
    s.name: s
    for s in [
        Scenario(
            "smoke",
            "stream",
            "tiny run for the test suite",
            clients=2,
            rate=100,
            duration=2,
            drain_timeout=5,
            standard=False,
        ),
        Scenario(
            "smoke-text",
            "stream",
            "tiny run with format=text for the test suite",
            clients=2,
            rate=100,
            duration=2,
            fmt="text",
            standard=False,
        ),
        Scenario(
            "smoke-search",
            "search",
            "search a 4 MB file, no match, beside grep (test suite)",
            search_mb=4,
            standard=False,
        ),
        Scenario(
            "steady-1",
            "stream",
            "1 client, 1,000 lines/s",
            "<= 50 CPU-s per million lines and <= 0.5x tail -F; p50 <= 5 ms, p99 <= 20 ms",
            duration=8,
            baseline=True,
        ),
        Scenario(
            "steady-10",
            "stream",
            "10 clients, 100 lines/s",
            "<= 1 % of a core",
            clients=10,
            rate=100,
            duration=8,
            baseline=True,
        ),
        Scenario(
            "fanout-1000-100",
            "stream",
            "1,000 clients, 100 lines/s",
            "<= 3 CPU-s per million deliveries and <= 1/3 of tail -F; p99 <= 100 ms; no loss",
            clients=1000,
            rate=100,
            duration=8,
            baseline=True,
        ),
        Scenario(
            "latency-100",
            "stream",
            "100 clients, 1,000 lines/s",
            "p50 <= 2 ms, p99 <= 10 ms, no loss",
            clients=100,
        ),
        Scenario(
            "throughput-1",
            "stream",
            "1 client, as fast as possible (SSE)",
            ">= 400,000 lines/s, no loss",
            rate=None,
            drain_timeout=30,
            baseline=True,
        ),
        Scenario(
            "throughput-1-text",
            "stream",
            "1 client, as fast as possible (format=text)",
            ">= 1,000,000 lines/s, no loss",
            rate=None,
            drain_timeout=30,
            fmt="text",
        ),
        Scenario(
            "fanout-1000",
            "stream",
            "1,000 clients, 1,000 lines/s",
            "10^6 deliveries/s, no loss, p99 <= 50 ms",
            clients=1000,
            duration=8,
            baseline=True,
        ),
        Scenario(
            "regex-1000",
            "stream",
            "1,000 clients, 1,000 distinct regexes, 1,000 lines/s",
            "no loss, p99 <= 100 ms",
            clients=1000,
            regex=True,
        ),
        Scenario(
            "fields-1000",
            "stream",
            "1,000 clients, 100 distinct field filters, 1,000 lines/s",
            "no loss, p99 <= 100 ms",
            clients=1000,
            field=True,
        ),
        Scenario(
            "idle-cpu-1000",
            "idle",
            "1,000 idle clients, heartbeat 5 s: server CPU and memory per client",
            "<= 1 % of a core; <= 20 KB per client",
            clients=1000,
            heartbeat=5,
            baseline=True,
        ),
        Scenario(
            "search-1g",
            "search",
            "search a 1 GB file, no match, beside LC_ALL=C grep -c",
            "<= 2x the time of grep",
        ),
        Scenario("startup-500", "startup", "500 logs under one glob: time until /api/logs lists them all"),
        Scenario(
            "workers-2",
            "workers",
            "--workers 2 vs 1: 500 clients offered 8,000 lines/s (4,000,000 deliveries/s: saturating)",
            "~2x deliveries/s",
            clients=500,
            rate=8000,
            duration=4,
        ),
        Scenario(
            "idle-10000",
            "idle",
            "10,000 idle clients, heartbeat 5 s: memory per client",
            "<= 25 KB per client",
            clients=10_000,
            heartbeat=5,
            standard=False,
        ),
    ]
}


@dataclass
class Options:
    server_module: str
    server_args: list[str]
    sample: int | None
    client_procs: int | None
    line_bytes: int
    profile_dir: Path | None = None
    websocketd: str | None = None  # the baseline's binary; None: no baseline runs

    def profile_path(self, sc: Scenario) -> Path | None:
        if self.profile_dir is None:
            return None
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        suffix = f"-w{sc.workers}" if sc.workers != 1 else ""
        return self.profile_dir / f"{sc.name}{suffix}.txt"


# -- cores ---------------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def all_cores() -> list[int]:
    """The cores this run may use (read before the writer pins itself to the client cores)."""
    return sorted(os.sched_getaffinity(0))


def core_split() -> tuple[list[int] | None, list[int] | None]:
    """(server cores, client cores): core 0 for the server, the rest for everything else (if 2+ cores)."""
    cores = all_cores()
    if len(cores) < 2:
        return None, None
    return cores[:1], cores[1:]


# -- small helpers -------------------------------------------------------------------------------------------


def percentile(sorted_values: array[int] | list[int], q: float) -> float | None:
    if not sorted_values:
        return None
    return float(sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))])


def core_times() -> dict[int, tuple[int, int]]:
    """Per core (busy, total) jiffies from /proc/stat; busy counts user, system, irq, softirq and steal."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                name, *values = line.split()
                v = [int(x) for x in values[:8]]
                out[int(name[3:])] = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7], sum(v))
    return out


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CpuWindow:
    """CPU used during a measurement: per core, by the server, and by nobody in the bench (contention)."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.t0 = time.monotonic()
        self.cores0 = core_times()
        self.server0 = server.cpu_times()
        self.own0 = own_cpu_seconds()
        self.wall = 0.0
        self.server_s = 0.0

    def stop(self) -> None:
        self.wall = time.monotonic() - self.t0
        user, system = self.server.cpu_times()
        self.server_user_s, self.server_sys_s = user - self.server0[0], system - self.server0[1]
        self.server_s = self.server_user_s + self.server_sys_s
        self.cores1 = core_times()
        self.own_s = own_cpu_seconds() - self.own0

    def summary(self, readers_s: float) -> dict[str, Any]:
        ticks = os.sysconf("SC_CLK_TCK")
        busy = {c: (self.cores1[c][0] - b[0], self.cores1[c][1] - b[1]) for c, b in self.cores0.items()}
        busy_s = sum(b for b, _ in busy.values()) / ticks
        other_s = busy_s - self.server_s - readers_s - self.own_s
        return {
            "server_user_s": round(self.server_user_s, 3),
            "server_system_s": round(self.server_sys_s, 3),
            "core_busy_pct": {str(c): round(100 * b / max(1, t), 1) for c, (b, t) in busy.items()},
            # other processes on the machine, plus kernel time (softirq) no process is charged for
            "unattributed_cpu_pct": round(100 * max(0.0, other_s) / self.wall, 1),
        }


class RssSampler:
    """Samples the server's RSS every 0.25 s in a thread; keeps the peak."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.peak_kb = max(self.peak_kb, self.server.rss_kb())

    def __enter__(self) -> RssSampler:
        self.peak_kb = self.server.rss_kb()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self.peak_kb = max(self.peak_kb, self.server.rss_kb())


def warm_up(port: int) -> None:
    """Open and close one stream so the baseline RSS includes the code paths a stream touches."""
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=3) as sock:
        sock.sendall(f"GET /api/logs/{LOG_NAME}/stream?backlog=0 HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        sock.recv(4096)
    time.sleep(0.5)


def stream_target(sc: Scenario, index: int, filter_kind: str | None) -> str:
    target = f"/api/logs/{LOG_NAME}/stream?backlog=0"
    if sc.fmt != "sse":
        target += f"&format={sc.fmt}"
    if filter_kind is not None:
        target += filter_query(filter_kind, index)
    return target


def server_args(sources: list[str], sc: Scenario, opts: Options) -> list[str]:
    supported = supported_options(opts.server_module)
    args = [*sources]
    wanted = [
        ("--max-clients", str(sc.clients + 1000)),
        ("--heartbeat", f"{sc.heartbeat:g}"),
        ("--log-level", "warning"),
    ]
    for flag, value in wanted:
        if not supported or flag in supported:
            args += [flag, value]
    if sc.workers != 1:
        args += ["--workers", str(sc.workers)]
    return args + opts.server_args


@contextlib.contextmanager
def running_server(
    sc: Scenario, opts: Options, sources: list[str], tmp: Path, cores: list[int] | None, baseline: bool = False
) -> Iterator[ServerProcess]:
    if baseline:
        assert opts.websocketd is not None
        server: ServerProcess = WebsocketdProcess(opts.websocketd, Path(sources[0]), tmp / "server.log", cores)
    else:
        server = ServerProcess(opts.server_module, server_args(sources, sc, opts), tmp / "server.log", cores)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def reader_pool(plans: list[ReaderPlan]) -> Iterator[ReaderPool]:
    pool = ReaderPool(plans)
    try:
        yield pool
    finally:
        pool.stop()


def plan_readers(
    sc: Scenario, opts: Options, port: int, cores: list[int] | None, baseline: bool = False
) -> list[ReaderPlan]:
    n = sc.clients
    filtered = sc.regex or sc.field
    kind = "field" if sc.field else "regex"
    per_stream = (sc.rate or 0) * ((0.501 if sc.regex else 0.505) if filtered else 1.0)
    if opts.sample is not None:
        measured_count = min(n, opts.sample)
    elif per_stream:
        measured_count = min(n, max(1, math.ceil(MEASURED_BUDGET / per_stream)))
    else:
        measured_count = 0  # flat out: every stream on the fast path (block-head latency only)
    measured = {round(k * n / measured_count) for k in range(measured_count)} if measured_count else set()
    streams = []
    for i in range(n):
        if baseline:  # websocketd: every connection to / runs its own `tail -F`
            streams.append(StreamPlan("/", None, i in measured, protocol="ws"))
        else:
            target = stream_target(sc, i, kind if filtered else None)
            streams.append(StreamPlan(target, i if filtered else None, i in measured, kind, sc.fmt))
    procs = opts.client_procs or max(len(cores or [0]), math.ceil(n / 2500))
    procs = max(1, min(procs, n, 32))
    timeout = 30 + n / 200
    return [ReaderPlan(HOST, port, streams[k::procs], cores, timeout) for k in range(procs)]


def open_readers(pool: ReaderPool, server: ServerProcess, sc: Scenario, plans: list[ReaderPlan]) -> dict[str, Any]:
    """Start the readers, check every stream opened, wait until the server counts them all."""
    connected = pool.start(plans[0].connect_timeout + 15)
    if connected["failed"]:
        raise RuntimeError(f"{connected['failed']} of {sc.clients} streams failed to open: {connected}")
    gauge = None
    if sc.workers == 1:  # with several workers each one has its own /metrics
        gauge = server.wait_clients(sc.clients, 30)
        if gauge is not None and gauge < sc.clients:
            raise RuntimeError(f"server counts {gauge:g} clients, expected {sc.clients}")
    time.sleep(0.5 if sc.workers == 1 else 1.5)  # let the last subscriptions settle
    return {"streams_open": connected["ok"], "clients_gauge": gauge}


# -- scenarios -----------------------------------------------------------------------------------------------


def run_stream(sc: Scenario, opts: Options, baseline: bool = False, pinned: bool = True) -> dict[str, Any]:
    # unpinned: every core, explicitly (children would otherwise inherit the writer's pinning)
    server_cores, client_cores = core_split() if pinned else (all_cores(), all_cores())
    with tempfile.TemporaryDirectory(prefix="logtail-bench-") as tmp_name:
        tmp = Path(tmp_name)
        log = tmp / LOG_NAME
        log.touch()
        with running_server(sc, opts, [str(log)], tmp, server_cores, baseline) as server:
            result: dict[str, Any] = {"startup_s": round(server.start(), 3)}
            if not baseline:
                warm_up(server.port)
            rss_base = server.rss_kb()
            plans = plan_readers(sc, opts, server.port, client_cores, baseline)
            with reader_pool(plans) as pool:
                result.update(open_readers(pool, server, sc, plans))
                rss_connected = server.rss_kb()
                pool.send("start")
                pool.gather("started", 10)
                writer = LineWriter(str(log), opts.line_bytes)
                window = CpuWindow(server)
                profile = None if baseline else opts.profile_path(sc)
                with pyspy.recording(server.pid, profile, result), RssSampler(server) as rss:
                    if sc.rate:
                        written = writer.at_rate(sc.rate, int(sc.rate * sc.duration))
                    else:
                        written = writer.flat_out(sc.lines)
                    write_s = time.monotonic() - window.t0
                    pool.send("expect", written.lines, sc.drain_timeout)
                    reports = pool.gather("report", sc.drain_timeout + 30)
                window.stop()
            wall, cpu = window.wall, window.server_s
            result.update(window.summary(sum(r["cpu_s"] for r in reports)))
            result.update(summarize_stream(sc, reports, written.first_ns))
            delivered = result["delivered"]
            result.update(
                lines_written=written.lines,
                write_s=round(write_s, 3),
                writer_max_behind_ms=round(written.max_behind_ms, 2),
                server_cpu_s=round(cpu, 3),
                server_cpu_pct=round(100 * cpu / wall, 1),
                server_cpu_s_per_million=round(cpu / delivered * 1e6, 3) if delivered else None,
                server_rss_base_mb=round(rss_base / 1024, 1),
                server_rss_connected_mb=round(rss_connected / 1024, 1),
                server_rss_peak_mb=round(rss.peak_kb / 1024, 1),
                server_kb_per_client=round((rss_connected - rss_base) / sc.clients, 1),
                server_threads=server.threads(),
                server_processes=len(server.group_pids()),
                client_procs=len(plans),
                client_cpu_pct=round(100 * sum(r["cpu_s"] for r in reports) / wall / len(client_cores or [0, 1]), 1),
            )
            if result["client_cpu_pct"] > 90:
                result.setdefault("warnings", []).append("readers were CPU-bound: numbers are a lower bound")
            if written.max_behind_ms > 50:
                result.setdefault("warnings", []).append(f"writer fell {written.max_behind_ms:.0f} ms behind")
            return result


def summarize_stream(sc: Scenario, reports: list[dict[str, Any]], first_write_ns: int) -> dict[str, Any]:
    total = {
        k: sum(r[k] for r in reports)
        for k in (
            "streams",
            "closed",
            "expected",
            "received",
            "lines",
            "duplicates",
            "reordered",
            "unexpected",
            "incomplete",
            "missed",
            "bytes",
            "blocks",
            "slow_blocks",
        )
    }
    notices: Counter[str] = Counter()
    for r in reports:
        notices.update(r["notices"])
    line_lat, head_lat = array("q"), array("q")
    for r in reports:
        line_lat.frombytes(r["line_latency_us"])
        head_lat.frombytes(r["head_latency_us"])
    basis = "every line of measured streams" if line_lat else "first line of each received block"
    lat = sorted(line_lat or head_lat)
    last_recv = max(r["last_recv_ns"] for r in reports)
    span_s = (last_recv - first_write_ns) / 1e9 if last_recv else 0.0
    delivered = total["received"]
    result = {
        "delivered": delivered,
        "expected": total["expected"],
        "loss": total["expected"] - delivered,
        "duplicates": total["duplicates"],
        "reordered": total["reordered"],
        "unexpected": total["unexpected"],
        "incomplete_streams": total["incomplete"],
        "measured_streams": sum(r["measured_streams"] for r in reports),
        "measured_loss": sum(r["measured_loss"] or 0 for r in reports),
        "measured_duplicates": sum(r["measured_duplicates"] for r in reports),
        "missing_sample": sorted(set().union(*(r["missing_sample"] for r in reports)))[:10],
        "closed_streams": total["closed"],
        "notices": dict(notices),
        "gap_missed": total["missed"],
        "delivered_per_s": round(delivered / span_s) if span_s > 0 else 0,
        "delivery_span_s": round(span_s, 3),
        "latency_ms": {
            "p50": _ms(percentile(lat, 0.50)),
            "p99": _ms(percentile(lat, 0.99)),
            "max": round(max(r["max_latency_ns"] for r in reports) / 1e6, 2),
            "samples": len(lat),
            "basis": basis,
        },
        "bytes_received": total["bytes"],
        "lines_per_block": round(total["lines"] / total["blocks"], 1) if total["blocks"] else 0,
        "slow_path_blocks": total["slow_blocks"],
    }
    return result


def _ms(us: float | None) -> float | None:
    return None if us is None else round(us / 1000, 2)


def run_idle(sc: Scenario, opts: Options, baseline: bool = False) -> dict[str, Any]:
    server_cores, client_cores = core_split()
    with tempfile.TemporaryDirectory(prefix="logtail-bench-") as tmp_name:
        tmp = Path(tmp_name)
        log = tmp / LOG_NAME
        log.write_text("seq=000000000 ts=0 lvl=INFO before the bench\n")
        with running_server(sc, opts, [str(log)], tmp, server_cores, baseline) as server:
            result: dict[str, Any] = {"startup_s": round(server.start(), 3)}
            if not baseline:
                warm_up(server.port)
            rss_base, pss_base = server.rss_kb(), server.pss_kb()
            plans = plan_readers(sc, opts, server.port, client_cores, baseline)
            with reader_pool(plans) as pool:
                t_connect = time.monotonic()
                result.update(open_readers(pool, server, sc, plans))
                result["connect_s"] = round(time.monotonic() - t_connect, 2)
                time.sleep(2)  # let allocations settle before measuring memory
                rss_connected, pss_connected = server.rss_kb(), server.pss_kb()
                pool.send("start")
                pool.gather("started", 10)
                window = CpuWindow(server)
                with pyspy.recording(server.pid, None if baseline else opts.profile_path(sc), result):
                    time.sleep(sc.duration)
                window.stop()
                cpu, wall = window.server_s, window.wall
                pool.send("report")
                reports = pool.gather("report", 30)
                result.update(window.summary(sum(r["cpu_s"] for r in reports)))
            result.update(
                idle_window_s=round(wall, 1),
                idle_cpu_pct=round(100 * cpu / wall, 2),
                server_rss_base_mb=round(rss_base / 1024, 1),
                server_rss_connected_mb=round(rss_connected / 1024, 1),
                server_kb_per_client=round((rss_connected - rss_base) / sc.clients, 1),
                server_pss_kb_per_client=round((pss_connected - pss_base) / sc.clients, 1),
                server_threads=server.threads(),
                pings=sum(r["pings"] for r in reports),
                min_pings_per_client=min(r["min_pings"] for r in reports),
                closed_streams=sum(r["closed"] for r in reports),
                client_procs=len(plans),
            )
            if not baseline and sc.duration >= sc.heartbeat and result["min_pings_per_client"] == 0:
                result.setdefault("warnings", []).append("some clients got no heartbeat during the window")
            return result


def run_startup(sc: Scenario, opts: Options, baseline: bool = False) -> dict[str, Any]:
    server_cores, _ = core_split()
    with tempfile.TemporaryDirectory(prefix="logtail-bench-") as tmp_name:
        tmp = Path(tmp_name)
        logs = tmp / "logs"
        logs.mkdir()
        for i in range(sc.files):
            (logs / f"app-{i:04d}.log").write_text("".join(f"line {k} of file {i}\n" for k in range(20)))
        with running_server(sc, opts, [str(logs / "*.log")], tmp, server_cores) as server:
            t0 = time.monotonic()
            healthy_s = server.start()
            listed, deadline = 0, t0 + 60
            while time.monotonic() < deadline:
                listed = len(server.get_json("/api/logs"))
                if listed >= sc.files:
                    break
                time.sleep(0.02)
            listed_s = time.monotonic() - t0
            time.sleep(1)
            cpu0 = server.cpu_seconds()
            time.sleep(5)
            return {
                "files": sc.files,
                "listed": listed,
                "healthy_s": round(healthy_s, 3),
                "all_listed_s": round(listed_s, 3) if listed >= sc.files else None,
                "idle_cpu_pct": round(100 * (server.cpu_seconds() - cpu0) / 5, 2),
                "server_rss_mb": round(server.rss_kb() / 1024, 1),
                "server_threads": server.threads(),
            }


def run_workers(sc: Scenario, opts: Options, baseline: bool = False) -> dict[str, Any]:
    if "--workers" not in supported_options(opts.server_module):
        return {"status": "unsupported", "note": "the server has no --workers option"}
    # Both runs share every core (a second worker needs one): compare them with each other only.
    runs = {}
    for workers in (1, 2):
        try:
            runs[workers] = run_stream(replace(sc, kind="stream", workers=workers), opts, pinned=False)
        except Exception as exc:  # a second run that cannot start is a result, not a crash
            runs[workers] = {"status": "error", "error": str(exc)}
    one, two = runs[1].get("delivered_per_s"), runs[2].get("delivered_per_s")
    return {
        "workers_1": runs[1],
        "workers_2": runs[2],
        "delivered_per_s": two,
        "scaling": round(two / one, 2) if one and two else None,
        "note": "server and readers unpinned in both runs",
    }


NO_MATCH = "nomatchhere"
SEARCH_ROUNDS = 3


def write_search_file(path: Path, size_mb: int, line_bytes: int) -> int:
    """About `size_mb` MB of bench lines (whole lines; one ~8 MB block repeated: the search does not care)."""
    payload = make_payload(line_bytes)
    ts = time.time_ns()
    block = "".join(format_line(i, ts, payload) for i in range(65536)).encode()
    target, written = size_mb << 20, 0
    with path.open("wb") as f:
        while written < target:
            chunk = block[: target - written]
            if len(chunk) < len(block):
                chunk = chunk[: chunk.rfind(b"\n") + 1]
                if not chunk:
                    break
            f.write(chunk)
            written += len(chunk)
    return written


def time_grep(path: Path, cores: list[int] | None) -> float:
    """Seconds `LC_ALL=C grep -c NO_MATCH FILE` takes, on the server's core."""
    t0 = time.perf_counter()
    subprocess.run(
        ["grep", "-c", NO_MATCH, str(path)],
        env={**os.environ, "LC_ALL": "C"},
        stdout=subprocess.DEVNULL,
        preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None,
        check=False,
    )
    return time.perf_counter() - t0


def time_search(server: ServerProcess) -> tuple[float, dict[str, Any]]:
    """Seconds a whole no-match search takes through HTTP, and its final `done` record."""
    t0 = time.perf_counter()
    status, body = server.get(f"/api/logs/{LOG_NAME}/search?q={NO_MATCH}", timeout=600)
    elapsed = time.perf_counter() - t0
    if status != 200:
        raise RuntimeError(f"search: HTTP {status} {body[:200]!r}")
    return elapsed, json.loads(body.rstrip(b"\n").rsplit(b"\n", 1)[-1])


def run_search(sc: Scenario, opts: Options, baseline: bool = False) -> dict[str, Any]:
    """logtail's search of a whole file with no match, beside grep on the same file, alternating rounds."""
    server_cores, _ = core_split()
    with tempfile.TemporaryDirectory(prefix="logtail-bench-") as tmp_name:
        tmp = Path(tmp_name)
        log = tmp / LOG_NAME
        size = write_search_file(log, sc.search_mb, opts.line_bytes)
        with running_server(sc, opts, [str(log)], tmp, server_cores) as server:
            result: dict[str, Any] = {"startup_s": round(server.start(), 3), "file_bytes": size}
            time_grep(log, server_cores)  # untimed: the file is in the page cache for both from here on
            grep_s, search_s, done = [], [], {}
            cpu0 = server.cpu_seconds()
            for _ in range(SEARCH_ROUNDS):
                grep_s.append(time_grep(log, server_cores))
                elapsed, done = time_search(server)
                search_s.append(elapsed)
            cpu = server.cpu_seconds() - cpu0
        best_grep, best_search = min(grep_s), min(search_s)
        return {
            **result,
            "grep_s": [round(t, 3) for t in grep_s],
            "search_s": [round(t, 3) for t in search_s],
            "grep_best_s": round(best_grep, 3),
            "search_best_s": round(best_search, 3),
            "search_gb_per_s": round(size / best_search / 1e9, 2),
            "grep_gb_per_s": round(size / best_grep / 1e9, 2),
            "ratio_to_grep": round(best_search / best_grep, 2),
            "server_cpu_s_per_search": round(cpu / SEARCH_ROUNDS, 3),
            "matches": done.get("matches"),
            "scanned": done.get("scanned"),
            "note": f"best of {SEARCH_ROUNDS} alternating rounds; file in the page cache; default order (newest)",
        }


RUNNERS: dict[str, Callable[[Scenario, Options, bool], dict[str, Any]]] = {
    "stream": run_stream,
    "idle": run_idle,
    "startup": run_startup,
    "workers": run_workers,
    "search": run_search,
}


def run_one(sc: Scenario, opts: Options, baseline: bool) -> dict[str, Any]:
    subject = BASELINE_NAME if baseline else "logtail"
    print(f"== {sc.name} [{subject}]: {sc.description}", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    try:
        result = {"status": "ok", **RUNNERS[sc.kind](sc, opts, baseline)}
    except Exception as exc:
        result = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
    result = {
        "scenario": sc.name,
        "subject": subject,
        "baseline": baseline,
        "description": sc.description,
        "target": "" if baseline else sc.target,
        "params": asdict(sc),
        **result,
        "elapsed_s": round(time.monotonic() - t0, 1),
    }
    busy = max(
        [result.get("unattributed_cpu_pct", 0)]
        + [result.get(k, {}).get("unattributed_cpu_pct", 0) for k in ("workers_1", "workers_2")]
    )
    if busy > 25:
        result.setdefault("warnings", []).append(f"busy machine: {busy}% of a core used outside the bench")
    print(f"   {result['status']} in {result['elapsed_s']} s", file=sys.stderr, flush=True)
    return result


def run_scenario(sc: Scenario, opts: Options) -> list[dict[str, Any]]:
    """logtail, then (for the issue's rows, when websocketd is available) the `tail -F` baseline."""
    results = [run_one(sc, opts, baseline=False)]
    if sc.baseline and opts.websocketd is not None:
        results.append(run_one(sc, opts, baseline=True))
    base = results[1] if len(results) > 1 else None
    # the verdict is only given for a scenario's default sizes
    results[0]["verdict"] = verdict(sc.name, results[0], base) if sc == SCENARIOS.get(sc.name) else None
    return results


# -- report --------------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    commit = subprocess.run(
        ["git", "-C", str(BENCH_DIR), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cores": all_cores(),
        "cpu_model": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "server_cores": core_split()[0],
        "client_cores": core_split()[1],
        "commit": commit or None,
        "nice": os.getpriority(os.PRIO_PROCESS, 0),
        "loadavg": os.getloadavg(),
    }


def _fmt(value: Any, spec: str = ",") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and spec == ",":
        return f"{value:,.2f}"
    return format(value, spec)


def table(results: list[dict[str, Any]]) -> str:
    head = [
        "scenario",
        "clients",
        "CPU %",
        "delivered/s",
        "loss",
        "dup",
        "p50 ms",
        "p99 ms",
        "max ms",
        "CPU s/M",
        "RSS MB",
        "target",
        "notes",
    ]
    rows = [head]
    for r in results:
        p = r["params"]
        lat = r.get("latency_ms", {})
        notes = []
        if r["status"] != "ok":
            notes.append(r.get("error") or r.get("note") or r["status"])
        if "server_kb_per_client" in r and r["params"]["kind"] == "idle":
            notes.append(f"{r['server_kb_per_client']} KB/client")
        if "idle_cpu_pct" in r:
            notes.append(f"idle CPU {r['idle_cpu_pct']}%")
        if "ratio_to_grep" in r:
            notes.append(f"search {r['search_best_s']} s, grep {r['grep_best_s']} s: x{r['ratio_to_grep']}")
        if "all_listed_s" in r:
            notes.append(f"healthy {r['healthy_s']} s, all {r['listed']} listed {r['all_listed_s']} s")
        if r.get("scaling") is not None:
            notes.append(f"x{r['scaling']} over 1 worker")
        if r.get("client_cpu_pct"):
            notes.append(f"reader CPU {r['client_cpu_pct']}%")
        notes += r.get("warnings", [])
        target = f"{r['target']} ({r['verdict']})" if r.get("verdict") else r.get("target", "")
        rss = r.get("server_rss_peak_mb") or r.get("server_rss_connected_mb") or r.get("server_rss_mb")
        cpu_pct = r.get("server_cpu_pct", r.get("idle_cpu_pct"))
        rows.append(
            [
                f"  {r['subject']}" if r.get("baseline") else r["scenario"],
                _fmt(p["clients"]),
                _fmt(cpu_pct),
                _fmt(r.get("delivered_per_s")),
                _fmt(r.get("loss")),
                _fmt(r.get("duplicates")),
                _fmt(lat.get("p50")),
                _fmt(lat.get("p99")),
                _fmt(lat.get("max")),
                _fmt(r.get("server_cpu_s_per_million")),
                _fmt(rss),
                target,
                "; ".join(notes),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head) - 1)]
    lines = [
        "  ".join(c.ljust(w) if i in (0, 11) else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=False)))
        + "  "
        + row[-1]
        for row in rows
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--scenario", help="comma-separated names: " + ", ".join(SCENARIOS))
    which.add_argument("--all", action="store_true", help="every scenario but smoke (idle-10000 last)")
    which.add_argument("--standard", action="store_true", help="like --all without idle-10000")
    which.add_argument("--targets", action="store_true", help="the rows of the issue's target table, with baselines")
    parser.add_argument("--clients", type=int, help="override the number of clients")
    parser.add_argument("--rate", help="override lines/s written ('max': as fast as possible)")
    parser.add_argument("--duration", type=float, help="override seconds of writing / of idle observation")
    parser.add_argument("--lines", type=int, help="lines to write with --rate max")
    parser.add_argument("--regex-filters", action="store_true", help="give each client its own regex filter")
    parser.add_argument("--workers", type=int, help="pass --workers N to the server")
    parser.add_argument("--heartbeat", type=float, help="server --heartbeat seconds")
    parser.add_argument("--drain-timeout", type=float, help="seconds to wait for the last line after writing")
    parser.add_argument("--sample", type=int, help="streams measured line by line (default: ~25,000 lines/s)")
    parser.add_argument("--client-procs", type=int, help="reader processes (default: one per client core)")
    parser.add_argument("--line-bytes", type=int, default=120, help="length of each written line")
    parser.add_argument("--server-arg", action="append", default=[], help="extra server argument (repeatable)")
    parser.add_argument("--server-module", default="logtail", help="module run as `python -m MODULE serve`")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="scheduling priority of the bench and server (e.g. -10 on a shared machine; root)",
    )
    parser.add_argument(
        "--baseline",
        choices=("auto", "on", "off"),
        default="auto",
        help="run the tail -F baseline under websocketd beside the issue's rows (auto: when it is installed or "
        "installable with apt-get as root; on: fail without it)",
    )
    parser.add_argument("--profile", metavar="DIR", help="record the server with py-spy into DIR/<scenario>.txt")
    parser.add_argument("--json", default=str(BENCH_DIR / "results" / "latest.json"), help="JSON report path")
    return parser.parse_args(argv)


TARGET_SCENARIOS = [
    "steady-1",
    "steady-10",
    "idle-cpu-1000",
    "fanout-1000-100",
    "fanout-1000",
    "throughput-1",
    "throughput-1-text",
    "search-1g",
]


def chosen_scenarios(args: argparse.Namespace) -> list[Scenario]:
    if args.targets:
        names = TARGET_SCENARIOS
    elif args.all or args.standard:
        names = [n for n, s in SCENARIOS.items() if s.standard] + ([] if args.standard else ["idle-10000"])
    else:
        names = [n.strip() for n in args.scenario.split(",") if n.strip()]
        unknown = [n for n in names if n not in SCENARIOS]
        if unknown:
            raise SystemExit(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    overrides: dict[str, Any] = {}
    if args.clients is not None:
        overrides["clients"] = args.clients
    if args.rate is not None:
        overrides["rate"] = None if args.rate == "max" else float(args.rate)
    for name in ("duration", "lines", "workers", "heartbeat", "drain_timeout"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    if args.regex_filters:
        overrides["regex"] = True
    return [replace(SCENARIOS[n], **overrides) for n in names]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scenarios = chosen_scenarios(args)
    opts = Options(
        args.server_module,
        args.server_arg,
        args.sample,
        args.client_procs,
        args.line_bytes,
        Path(args.profile) if args.profile else None,
    )
    if args.baseline != "off" and any(sc.baseline for sc in scenarios):
        opts.websocketd = ensure_websocketd()
        if opts.websocketd is None and args.baseline == "on":
            raise SystemExit("--baseline on: websocketd is not installed (bench/setup installs it, as root)")
    raise_open_files_limit()
    if args.nice:
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # inherited by the server and the readers
    _, client_cores = core_split()  # decided before this process pins itself
    if client_cores:
        os.sched_setaffinity(0, client_cores)  # the writer stays off the server's core
    report: dict[str, Any] = {
        "command": " ".join([sys.executable, *sys.argv]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "scenarios": [],
    }
    t0 = time.monotonic()
    for sc in scenarios:
        report["scenarios"] += run_scenario(sc, opts)
    report["elapsed_s"] = round(time.monotonic() - t0, 1)
    report["loadavg_end"] = os.getloadavg()
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    m = report["machine"]
    print(
        f"\nlogtail bench: {m['nproc']} CPUs ({m['cpu_model']}), Python {m['python']}, "
        f"server cores {m['server_cores']}, reader cores {m['client_cores']}; {report['elapsed_s']} s; "
        f"load average {m['loadavg'][0]:.2f} at the start, {report['loadavg_end'][0]:.2f} at the end"
    )
    print(table(report["scenarios"]))
    issue = issue_table(report["scenarios"])
    if issue:
        print(f"\nThe issue's targets (baseline: {BASELINE_NAME if opts.websocketd else 'not run'}):")
        print(issue)
    print(f"\nJSON: {out}")
    return 0 if all(r["status"] in ("ok", "unsupported") for r in report["scenarios"]) else 1


if __name__ == "__main__":
    sys.exit(main())
