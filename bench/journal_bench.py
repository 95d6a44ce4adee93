"""The journal source's bench row: entries per second delivered to one SSE client from a journal file as fast
as it is written, beside `journalctl --follow --output=json > /dev/null` on the same directory in the same
run; and the idle cost of a quiet journal source.

Two ways of writing, each a row:
- `file`: the entries are written beforehand into a journal file (`systemd-journal-remote`, as the tests do)
  that is then renamed into the followed directory: the whole file appears at once, so what is measured is
  how fast logtail (and journalctl beside it) can take entries, not how fast a writer makes them.
- `pipe`: `systemd-journal-remote` appends the entries to the followed file from one pipe write, as fast as
  it writes them (on this machine it is the slowest of the three).

The server runs `logtail serve journal --journal-directory DIR`; its CPU is read from /proc, split into the
server's Python process and its journalctl child, beside the CPU of the bench's SSE client (a thread of this
process) and of the baseline journalctl, which also follows DIR from its start in the same run. In the
`file` row the baseline is stopped (SIGSTOP) while logtail delivers and continued once it has (`--baseline
after`, the default): the machine has 2 cores, and journalctl writing JSON at 50,000 entries/s takes most of
one, so running it alongside would measure how logtail shares a core with it; the whole file appears at
once, so it reads the entries in bulk either way. In the `pipe` row it always runs alongside: entries come
at the writer's pace, and a reader that keeps up wakes more often per entry than one that finds a backlog,
so the baseline must meet the same trickle. `--baseline concurrent` runs it alongside in both rows.

    .venv/bin/python bench/journal_bench.py --entries 100000 [--json out.json] [--profile DIR]
"""

from __future__ import annotations

import argparse
import os
import signal
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

from pyspy import recording
from report import emit
from server_process import CLOCK_TICKS, ServerProcess

from tests.journal_support import JournalWriter

IDLE_SECONDS = 20.0
READ_BYTES = 1 << 20  # the client's socket reads
DEADLINE = 600.0  # seconds to wait for one phase's entries


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


def thread_cpu_seconds(tid: int) -> float:
    """CPU seconds of one thread of this process (the client's)."""
    return int(Path(f"/proc/self/task/{tid}/schedstat").read_text().split()[0]) / 1e9


def run_ns(pid: int) -> int:
    """Nanoseconds on a CPU of every thread of a process and of its live children (the scheduler's own
    count, /proc/PID/task/TID/schedstat: finer than the 10 ms ticks of /proc/PID/stat, which an idle
    server's few milliseconds need)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total + sum(run_ns(child) for child in _children(pid))


def settled_cpu(pid: int, deadline: float) -> float:
    """The process's CPU seconds once they stop growing (the baseline has read all there is)."""
    last = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = cpu_seconds(pid)
        if now == last:
            return now
        last = now
    return last


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
            data = self.sock.recv(READ_BYTES)
            if not data:
                return
            chunk = tail + data
            self.count += chunk.count(b"event: line\n")
            tail = chunk[-16:]
            self.count -= tail.count(b"event: line\n")  # counted again with the next read
            self.last_at = time.monotonic()


def entries(writer: JournalWriter, count: int, phase: str) -> bytes:
    return b"".join(writer.entry(f"GET /api/{phase}/{i} HTTP/1.1 200 in 12ms user=alice", SYSLOG_IDENTIFIER="app")
                    for i in range(count))


def prewritten(workdir: Path, count: int, after: JournalWriter) -> Path:
    """A journal file of `count` entries, later than everything `after` wrote (time and boot-monotonic order,
    which is how journalctl merges files)."""
    staging = workdir / "staging"
    with JournalWriter(staging, "bulk.journal") as writer:
        writer.clock, writer.monotonic = after.clock, after.monotonic
        writer.send(entries(writer, count, "file"))
        after.clock, after.monotonic = writer.clock, writer.monotonic
    return writer.path


def phase(name: str, count: int, client: Counter, server: ServerProcess, baseline: subprocess.Popen[bytes],
          write: Any, profile: Path | None, alongside: bool) -> dict[str, Any]:
    """Write `count` entries with `write()` and measure their delivery (the baseline stopped meanwhile unless
    `alongside`)."""
    info: dict[str, Any] = {}
    expected = client.count + count
    if not alongside:
        os.kill(baseline.pid, signal.SIGSTOP)
    server_cpu, python_cpu = cpu_seconds(server.pid), cpu_seconds(server.pid, False)
    base_cpu = cpu_seconds(baseline.pid)
    client_cpu = thread_cpu_seconds(client.native_id or 0)
    with recording(server.pid, profile / f"journal-{name}.txt" if profile else None, info):
        began = time.monotonic()
        write()
        deadline = began + DEADLINE
        while client.count < expected and time.monotonic() < deadline:
            time.sleep(0.02)
        elapsed = client.last_at - began
        server_us = (cpu_seconds(server.pid) - server_cpu) / count * 1e6
        python_us = (cpu_seconds(server.pid, False) - python_cpu) / count * 1e6
        client_us = (thread_cpu_seconds(client.native_id or 0) - client_cpu) / count * 1e6
        load = os.getloadavg()[0]
    if not alongside:
        os.kill(baseline.pid, signal.SIGCONT)
    base_us = (settled_cpu(baseline.pid, time.monotonic() + 120) - base_cpu) / count * 1e6
    delivered = count - (expected - client.count)
    return {"writer": name, "entries": count, "delivered": delivered, "seconds": round(elapsed, 3),
            "entries_per_s": round(delivered / elapsed) if elapsed > 0 else None,
            "server_cpu_us_per_entry": round(server_us, 2), "journalctl_cpu_us_per_entry": round(base_us, 2),
            "cpu_ratio": round(server_us / base_us, 2) if base_us else None,
            # The server's share split: its Python process, and its journalctl child (the rest).
            "server_python_us_per_entry": round(python_us, 2),
            "server_journalctl_us_per_entry": round(server_us - python_us, 2),
            "client_us_per_entry": round(client_us, 2), "load_average_1m": round(load, 2), **info}


def read_rate(directory: Path, output: str, count: int) -> dict[str, float]:
    """How fast journalctl alone reads the whole directory in this run (entries/s, CPU µs an entry): the
    ceiling for anything that reads the journal through it."""
    began, cpu = time.monotonic(), os.times()
    subprocess.run(["journalctl", "--directory", str(directory), f"--output={output}"], stdout=subprocess.DEVNULL,
                   check=True)
    elapsed, after = time.monotonic() - began, os.times()
    used = after.children_user + after.children_system - cpu.children_user - cpu.children_system
    return {"entries_per_s": round(count / elapsed), "cpu_us_per_entry": round(used / count * 1e6, 2)}


def run(count: int, workdir: Path, profile: Path | None, alongside: bool, idle_seconds: float) -> dict[str, Any]:
    directory = workdir / "journal"
    writer = JournalWriter(directory).open()
    writer.write("start")
    bulk = prewritten(workdir, count, writer)
    server = ServerProcess("logtail", ["journal", "--journal-directory", str(directory), "--window-lines", "1000"],
                           workdir / "server.log", None)
    server.start()
    baseline = subprocess.Popen(["journalctl", "--directory", str(directory), "--follow", "--output=json",
                                 "--lines=all"], stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        client = Counter(server.port, "/api/logs/journal/stream?backlog=0")
        client.start()
        time.sleep(2.0)  # the stream is open and both journalctl are following before anything is written
        idle_start, idle_at = run_ns(server.pid), time.monotonic()
        time.sleep(idle_seconds)
        idle = (run_ns(server.pid) - idle_start) / 1e9 / (time.monotonic() - idle_at)
        rows = [phase("file", count, client, server, baseline, lambda: bulk.rename(directory / bulk.name), profile,
                      alongside),
                phase("pipe", count, client, server, baseline,
                      lambda: writer.send(entries(writer, count, "pipe")), profile, True)]
        return {"rows": rows, "baseline": "concurrent" if alongside else "after",
                "idle_core_percent": round(idle * 100, 3), "idle_seconds": idle_seconds,
                "journalctl_alone": {fmt: read_rate(directory, fmt, 2 * count + 1) for fmt in ("json", "export")}}
    finally:
        os.killpg(baseline.pid, 9)
        baseline.wait()
        server.stop()
        writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--profile", type=Path, help="record the server with py-spy into this directory")
    parser.add_argument("--idle", type=float, default=IDLE_SECONDS, help="seconds of the idle measurement")
    parser.add_argument("--baseline", choices=("after", "concurrent"), default="after",
                        help="run the baseline journalctl after the file row's delivery (default) or alongside it")
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="logtail-journal-bench-") as tmp:
        result = run(args.entries, Path(tmp), args.profile, args.baseline == "concurrent", args.idle)
    result["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                      cwd=Path(__file__).parent).stdout.strip()
    result["load_average"] = os.getloadavg()
    emit(result, args.json)


if __name__ == "__main__":
    main()
