"""The journal source's bench row: entries per second delivered to one SSE client from a journal file as fast
as it is written, beside `journalctl --follow --output=json > /dev/null` on the same file in the same run;
and the idle cost of a quiet journal source.

The journal file is written by `systemd-journal-remote` from the export format on a pipe (the same tool the
tests use). The server runs `logtail serve journal --journal-directory DIR`; its CPU (and its journalctl
child's) is read from /proc, as is the baseline journalctl's.

    .venv/bin/python bench/journal_bench.py --entries 100000 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server_process import CLOCK_TICKS, ServerProcess

from tests.journal_support import JournalWriter


def cpu_seconds(pid: int, children: bool = True) -> float:
    """CPU seconds of a process (and of its reaped and live children: the server's journalctl)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    if children:
        for child in _children(pid):
            total += round(cpu_seconds(child, False) * CLOCK_TICKS)
    return total / CLOCK_TICKS


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


class Counter(threading.Thread):
    """One SSE client on a raw socket, counting `event: line` frames."""

    def __init__(self, port: int, path: str) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n".encode())
        self.count = 0
        self.last_at = 0.0

    def run(self) -> None:
        tail = b""
        while True:
            data = self.sock.recv(1 << 20)
            if not data:
                return
            chunk = tail + data
            self.count += chunk.count(b"event: line\n")
            tail = chunk[-16:]
            self.count -= tail.count(b"event: line\n")  # counted again with the next read
            self.last_at = time.monotonic()


def entries(writer: JournalWriter, count: int) -> list[bytes]:
    return [writer.entry(f"GET /api/items/{i} HTTP/1.1 200 in 12ms user=alice", SYSLOG_IDENTIFIER="app")
            for i in range(count)]


def run(count: int, workdir: Path) -> dict[str, Any]:
    directory = workdir / "journal"
    writer = JournalWriter(directory).open()
    writer.write("start")
    server = ServerProcess("logtail", ["journal", "--journal-directory", str(directory), "--window-lines", "1000"],
                           workdir / "server.log", None)
    server.start()
    try:
        baseline = subprocess.Popen(["journalctl", "--directory", str(directory), "--follow", "--output=json",
                                     "--lines=0"], stdout=subprocess.DEVNULL, start_new_session=True)
        client = Counter(server.port, "/api/logs/journal/stream?backlog=0")
        client.start()
        time.sleep(1.0)  # the stream is open and journalctl is following before the writes
        idle_start, idle_at = cpu_seconds(server.pid), time.monotonic()
        time.sleep(10.0)
        idle = (cpu_seconds(server.pid) - idle_start) / (time.monotonic() - idle_at)
        server_cpu, base_cpu, began = cpu_seconds(server.pid), cpu_seconds(baseline.pid), time.monotonic()
        writer.send(b"".join(entries(writer, count)))
        deadline = time.monotonic() + 600
        while client.count < count and time.monotonic() < deadline:
            time.sleep(0.05)
        elapsed = client.last_at - began
        result = {
            "entries": count, "delivered": client.count, "seconds": round(elapsed, 3),
            "entries_per_s": round(client.count / elapsed) if elapsed > 0 else None,
            "server_cpu_us_per_entry": round((cpu_seconds(server.pid) - server_cpu) / count * 1e6, 2),
            "journalctl_cpu_us_per_entry": round((cpu_seconds(baseline.pid) - base_cpu) / count * 1e6, 2),
            "idle_core_percent": round(idle * 100, 3),
        }
        baseline.kill()
        baseline.wait()
        return result
    finally:
        server.stop()
        writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="logtail-journal-bench-") as tmp:
        result = run(args.entries, Path(tmp))
    result["load_average"] = os.getloadavg()
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
