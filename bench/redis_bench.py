"""The many-hosts benchmark: shippers -> one Redis -> a web node, measured end to end.

    .venv/bin/python bench/redis_bench.py                      # 4 shippers x 250,000 lines, latency at 1,000/s
    .venv/bin/python bench/redis_bench.py --smoke --json r.json # tiny run for the test suite

Starts its own redis-server (free loopback port, temp dir, no persistence), N `logtail ship` processes each
following its own file, and one `logtail serve --redis` web node that also serves a local log. Reports:

- throughput: lines/s stored in Redis from all shippers writing as fast as they can, and the loss (lines in
  Redis compared with lines written, exactly);
- shipper CPU per million lines (user + system time of the shipper processes);
- Redis memory per 100,000 entries and per 100,000 lines (MEMORY USAGE of the streams);
- latency from the write to an SSE client, p50/p99, for a shipped log and for the same lines in a local log
  (written at the same moment), at `--rate` lines/s: the difference is what the Redis hop adds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from logtail.sources.redis import keys  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.02)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


class Processes:
    """Every process the run starts, each in its own session, stopped by PID at the end."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, args: list[str], name: str) -> subprocess.Popen[bytes]:
        with (self.dir / f"{name}.log").open("wb") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)


def stored_lines(client: redis.Redis, host: str) -> int:
    """Lines in a host's stream, counted exactly (one XRANGE pass)."""
    total, low = 0, "-"
    while True:
        found = client.xrange(keys.stream_key(host, "app.log"), low, "+", count=5000)
        for _id, fields in found:
            text = fields.get(b"lines")
            total += 0 if text is None else text.count(b"\n") + 1
        if len(found) < 5000:
            return total
        low = "(" + found[-1][0].decode()


def throughput(client: redis.Redis, logs: list[Path], shippers: list[subprocess.Popen[bytes]], lines: int,
               line_bytes: int) -> dict[str, Any]:
    hosts = [f"bench{i}" for i in range(len(logs))]
    cpu0 = sum(cpu_seconds(p.pid) for p in shippers)
    payload = "".join(f"{i:09d} {'x' * (line_bytes - 11)}\n" for i in range(lines)).encode()
    start = time.monotonic()
    for log in logs:
        with log.open("ab") as f:
            f.write(payload)
    counts: dict[str, int] = {}

    def done() -> bool:
        counts.update({h: stored_lines(client, h) for h in hosts})
        return all(n >= lines for n in counts.values())
    wait(done, 300, "every line stored")
    elapsed = time.monotonic() - start
    cpu = sum(cpu_seconds(p.pid) for p in shippers) - cpu0
    memory = sum(int(client.memory_usage(keys.stream_key(h, "app.log"), samples=0) or 0) for h in hosts)
    entries = sum(int(client.xlen(keys.stream_key(h, "app.log"))) for h in hosts)
    total = lines * len(logs)
    return {
        "shippers": len(logs), "lines_written": total, "lines_stored": sum(counts.values()),
        "loss": total - sum(min(n, lines) for n in counts.values()),
        "duplicates": sum(max(0, n - lines) for n in counts.values()),
        "lines_per_s": round(total / elapsed), "seconds": round(elapsed, 2),
        "shipper_cpu_s_per_million": round(cpu / total * 1e6, 2),
        "redis_bytes_per_100k_entries": round(memory / max(entries, 1) * 100_000),
        "redis_bytes_per_100k_lines": round(memory / total * 100_000),
        "entries": entries,
    }


def latency(base: str, shipped_log: Path, local_log: Path, rate: float, seconds: float) -> dict[str, Any]:
    """Write timestamped lines to both logs at once; one SSE client per log measures write -> receive."""
    got: dict[str, list[float]] = {"app.log@bench0": [], "local.log": []}
    stop = threading.Event()

    def read(name: str) -> None:
        with httpx.Client(timeout=httpx.Timeout(10, read=None)) as http, \
                http.stream("GET", f"{base}/api/logs/{name}/stream?format=text&backlog=0") as response:
            for line in response.iter_lines():
                now = time.time_ns()
                if line.startswith("t="):
                    got[name].append((now - int(line[2:].split()[0])) / 1e6)
                if stop.is_set():
                    return

    readers = [threading.Thread(target=read, args=(n,), daemon=True) for n in got]
    for r in readers:
        r.start()
    time.sleep(1)  # the streams are open
    count = int(rate * seconds)
    t0 = time.monotonic()
    with shipped_log.open("ab", buffering=0) as a, local_log.open("ab", buffering=0) as b:
        for i in range(count):
            line = f"t={time.time_ns()} {i}\n".encode()
            a.write(line)
            b.write(line)
            delay = t0 + (i + 1) / rate - time.monotonic()  # an absolute schedule: no drift
            if delay > 0:
                time.sleep(delay)
    wait(lambda: all(len(v) >= count for v in got.values()), 30, "every timed line received")
    stop.set()
    shipped, local = got["app.log@bench0"], got["local.log"]
    return {
        "rate": rate, "lines": count,
        "shipped_ms": {"p50": percentile(shipped, 0.5), "p99": percentile(shipped, 0.99)},
        "local_ms": {"p50": percentile(local, 0.5), "p99": percentile(local, 0.99)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shippers", type=int, default=4)
    parser.add_argument("--lines", type=int, default=250_000, help="lines written per shipper's file")
    parser.add_argument("--line-bytes", type=int, default=110)
    parser.add_argument("--rate", type=float, default=1000.0, help="lines/s of the latency run")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the latency run")
    parser.add_argument("--smoke", action="store_true", help="2 shippers, 2,000 lines, 2 s of latency")
    parser.add_argument("--json", help="write the report here too")
    args = parser.parse_args(argv)
    if args.smoke:
        args.shippers, args.lines, args.seconds, args.rate = 2, 2000, 2.0, 200.0
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    with tempfile.TemporaryDirectory(prefix="logtail-redis-bench-") as tmp:
        d = Path(tmp)
        procs = Processes(d)
        try:
            port = free_port()
            procs.start([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                         "--dir", tmp], "redis")
            client = redis.Redis(port=port)
            wait(lambda: _pings(client), 10, "redis-server")
            url = f"redis://127.0.0.1:{port}/0"
            logs = [d / f"app{i}.log" for i in range(args.shippers)]
            shippers = []
            for i, log in enumerate(logs):
                log.touch()
                shippers.append(procs.start([sys.executable, "-m", "logtail", "ship", f"app.log={log}",
                                             "--host-name", f"bench{i}", "--redis", url,
                                             # keep every line of the run: the loss count reads them all back
                                             "--redis-maxlen", str(max(100_000, 2 * args.lines))], f"ship{i}"))
            wait(lambda: len(client.hkeys(keys.LOGS_KEY)) == args.shippers, 30, "every shipper registered")
            report: dict[str, Any] = {"command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
                                      "cores": os.cpu_count()}
            report["throughput"] = throughput(client, logs, shippers, args.lines, args.line_bytes)
            local = d / "local.log"
            local.touch()
            web_port = free_port()
            procs.start([sys.executable, "-m", "logtail", "serve", str(local), "--port", str(web_port),
                         "--redis", url, "--log-level", "warning"], "web")
            base = f"http://127.0.0.1:{web_port}"
            wait(lambda: _listed(base, "app.log@bench0"), 30, "the web node")
            report["latency"] = latency(base, logs[0], local, args.rate, args.seconds)
        finally:
            procs.stop()
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    return 0


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def _listed(base: str, name: str) -> bool:
    try:
        return any(x["name"] == name for x in httpx.get(f"{base}/api/logs", timeout=2).json())
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    raise SystemExit(main())
