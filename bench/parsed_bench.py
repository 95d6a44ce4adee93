"""Issue 25's bench rows: parsed access logs and multi-line events, each beside its baseline in the same run.

    .venv/bin/python bench/parsed_bench.py [--rows filter,throughput,multiline] [--seconds 10] [--json out.json]

- `filter`: an nginx access log written at 10,000 lines/s (5 % of them status 500) to 100 clients, served
  twice in a row: with `parse = "nginx"` and `field=status>=500`, then without a parser and `q=HTTP/1.1" 500 ` (a
  text search, no parsing: the baseline). Server CPU seconds per million lines written, and their ratio.
- `throughput`: one SSE client on an nginx log with `parse = "nginx"` while 1,000,000 lines are written as
  fast as possible; beside it, in the same run, the same lines without a parser. Lines/s delivered.
- `multiline`: a Python log with `multiline = "python"` (`multiline_wait` 1 s), written in 1 s bursts at
  10,000 lines/s, one event in ten a 5-line traceback. One NDJSON client; each event's first line holds the
  time it was written: the latency of events followed by another, and of the last event of each burst.

The server runs pinned to core 0 (the writer and the clients on the others) and its CPU is read from /proc.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from journal_bench import Counter
from report import emit
from server_process import ServerProcess

CLIENTS = 100
RATE = 10_000
AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


def access_line(i: int) -> str:
    status = 500 if i % 20 == 0 else 404 if i % 20 == 1 else 200
    return (f'203.0.113.{i % 250} - - [07/Dec/2026:07:52:16 +0000] "GET /api/items/{i}?page=2 HTTP/1.1" '
            f'{status} {1000 + i % 5000} "https://example.com/list" "{AGENT}"\n')


def write_at(path: Path, rate: int, seconds: float, line: Any, start: int = 0) -> int:
    """Lines `line(i)` appended at `rate` per second for `seconds`, in writes every 10 ms; the count written."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        t0, written, total = time.perf_counter(), 0, int(rate * seconds)
        while written < total:
            due = min(total, int((time.perf_counter() - t0) * rate) + 1)
            if due > written:
                os.write(fd, "".join(line(start + i) for i in range(written, due)).encode())
                written = due
            time.sleep(0.01)
        return written
    finally:
        os.close(fd)


def server_for(workdir: Path, tag: str, config: str) -> ServerProcess:
    conf = workdir / f"{tag}.toml"
    conf.write_text(config)
    cores = [0] if (os.cpu_count() or 1) > 1 else None
    return ServerProcess("logtail", ["--config", str(conf), "--max-clients", "1000", "--log-level", "warning",
                                     "--queue-bytes", str(64 << 20)], workdir / f"{tag}.out", cores)


def pin_self() -> None:
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, set(range(1, os.cpu_count() or 2)))


# -- filter ------------------------------------------------------------------------------------------------


def filter_cpu(workdir: Path, parse: bool, seconds: float) -> dict[str, Any]:
    log = workdir / "access.log"
    log.write_text("")
    config = f'[logs.access]\npath = "{log}"\n' + ('parse = "nginx"\n' if parse else "")
    query = "field=status%3E%3D500" if parse else "q=HTTP%2F1.1%22%20500%20"
    server = server_for(workdir, "filter-parse" if parse else "filter-q", config)
    server.start()
    try:
        clients = [Counter(server.port, f"/api/logs/access/stream?backlog=0&{query}") for _ in range(CLIENTS)]
        for c in clients:
            c.start()
        server.wait_clients(CLIENTS, 30)
        cpu = server.cpu_seconds()
        written = write_at(log, RATE, seconds, access_line)
        expected = sum(1 for i in range(written) if i % 20 == 0)
        deadline = time.monotonic() + 30
        while min(c.count for c in clients) < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        used = server.cpu_seconds() - cpu
        return {"mode": "parse=nginx field=status>=500" if parse else "no parser, q=HTTP/1.1\" 500 ", "lines": written,
                "delivered_min": min(c.count for c in clients), "expected": expected,
                "cpu_s_per_million_lines": round(used / written * 1e6, 1)}
    finally:
        server.stop()


# -- throughput --------------------------------------------------------------------------------------------


def throughput(workdir: Path, parse: bool, count: int) -> dict[str, Any]:
    log = workdir / "big.log"
    log.write_text("")
    config = f'[logs.access]\npath = "{log}"\n' + ('parse = "nginx"\n' if parse else "")
    server = server_for(workdir, "tp-parse" if parse else "tp-plain", config)
    server.start()
    try:
        client = Counter(server.port, "/api/logs/access/stream?backlog=0")
        client.start()
        server.wait_clients(1, 30)
        cpu = server.cpu_seconds()
        data = "".join(access_line(i) for i in range(2000)).encode()
        fd = os.open(log, os.O_WRONLY | os.O_APPEND)
        began = time.monotonic()
        try:
            for _ in range(count // 2000):
                os.write(fd, data)
        finally:
            os.close(fd)
        deadline = time.monotonic() + 300
        while client.count < count and time.monotonic() < deadline:
            time.sleep(0.05)
        elapsed = client.last_at - began
        return {"mode": "parse=nginx" if parse else "no parser", "lines": count, "delivered": client.count,
                "lines_per_s": round(client.count / elapsed), "server_cpu_s": round(server.cpu_seconds() - cpu, 2)}
    finally:
        server.stop()


# -- multiline ---------------------------------------------------------------------------------------------


TRACEBACK = ('Traceback (most recent call last):\n  File "app.py", line 12, in handle\n    return items[key]\n'
             "KeyError: 'missing'\n")


def python_event(i: int) -> str:
    head = f"2026-12-07 07:52:16,123 {'ERROR' if i % 10 == 0 else 'INFO'} app: event {i} t={time.time():.6f}\n"
    return head + TRACEBACK if i % 10 == 0 else head


class Receiver(threading.Thread):
    """One NDJSON client: per event, the seconds from the write its first line records to its arrival."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.conn.request("GET", "/api/logs/app/stream?backlog=0&format=ndjson")
        self.response = self.conn.getresponse()
        self.latency: dict[int, float] = {}

    def run(self) -> None:
        while True:
            raw = self.response.readline()
            if not raw:
                return
            now = time.time()
            record = json.loads(raw)
            words = record.get("text", "").split("\n", 1)[0].split()
            if len(words) >= 7 and words[6].startswith("t="):
                self.latency[int(words[5])] = now - float(words[6][2:])


def multiline_latency(workdir: Path, bursts: int) -> dict[str, Any]:
    log = workdir / "app.log"
    log.write_text("")
    config = f'[logs.app]\npath = "{log}"\nmultiline = "python"\nmultiline_wait = "1s"\n'
    server = server_for(workdir, "multiline", config)
    server.start()
    try:
        receiver = Receiver(server.port)
        receiver.start()
        server.wait_clients(1, 30)
        # Lines per event: 1.4 on average (one in ten has 5 lines), so 10,000 lines/s is ~7,150 events/s.
        per_burst, last = 7150, []
        for b in range(bursts):
            write_at(log, per_burst, 1.0, python_event, start=b * per_burst)
            last.append(b * per_burst + per_burst - 1)
            time.sleep(3.0)  # past multiline_wait: the burst's last event is sent by the clock
        followed = [v for k, v in receiver.latency.items() if k not in last]
        ends = [receiver.latency[k] for k in last if k in receiver.latency]
        qs = statistics.quantiles(followed, n=100)
        return {"events": len(receiver.latency), "written": bursts * per_burst, "multiline_wait_s": 1.0,
                "followed_p50_ms": round(qs[49] * 1000, 1), "followed_p99_ms": round(qs[98] * 1000, 1),
                "last_of_burst_ms": [round(v * 1000, 1) for v in ends]}
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="filter,throughput,multiline")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of writing for the filter row")
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines of the throughput row")
    parser.add_argument("--bursts", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = {r.strip() for r in args.rows.split(",")}
    pin_self()
    result: dict[str, Any] = {"load_average_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="logtail-parsed-bench-") as tmp:
        work = Path(tmp)
        if "filter" in rows:
            parsed, plain = filter_cpu(work, True, args.seconds), filter_cpu(work, False, args.seconds)
            result["filter"] = {"parsed": parsed, "q": plain, "ratio": round(
                parsed["cpu_s_per_million_lines"] / plain["cpu_s_per_million_lines"], 2)}
        if "throughput" in rows:
            parsed, plain = throughput(work, True, args.lines), throughput(work, False, args.lines)
            result["throughput"] = {"parsed": parsed, "plain": plain,
                                    "ratio": round(parsed["lines_per_s"] / plain["lines_per_s"], 2)}
        if "multiline" in rows:
            result["multiline"] = multiline_latency(work, args.bursts)
    result["load_average_after"] = os.getloadavg()
    emit(result, args.json)


if __name__ == "__main__":
    main()
