"""Issue 24's bench row on a real server: 20 watches over 10 logs at 10,000 lines/s in total, no client.

Runs `logtail serve` on the same 10 files and the same writer twice per round, without and with the 20
watches (the same 19 as bench/watches_cost.py, counting only, plus one that alerts on every marker line), and
prints the server's CPU over the steady part of each run: the watches' cost is the difference, in % of a
core. The writer appends 10 lines to each log every 10 ms and, `--markers` times a second (1 by default), a
marker line carrying the time it was written, to one log in turn. The alerting watch (`threshold = 1`,
`cooldown = "0s"`) sends a JSON alert to a receiver in its own process, which records when each arrives: the
latency of a marker is the arrival of the alert that carries it minus its write time (one machine, one clock).

    .venv/bin/python bench/watches_row.py                 # 2 rounds of 20 s each way
    .venv/bin/python bench/watches_row.py --rounds 1 --duration 10
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyspy
from server_process import ServerProcess, free_port

LOGS = [f"app{i}.log" for i in range(10)]
TICK = 0.01  # the writer's step: 10 lines to each log
WARMUP = 2.0  # seconds of writing before the CPU is read
LEVELS = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"]


def config(directory: Path, port: int, watches: bool) -> Path:
    """The server's TOML: the 10 logs, and with `watches` 19 counting watches and one alerting one."""
    lines = [f"sources = {json.dumps([str(directory / log) for log in LOGS])}",
             f'state_dir = "{directory / "state"}"']
    if watches:
        lines.append(f'[destinations.bench]\nurl = "http://127.0.0.1:{port}/alert"\nformat = "json"')
        lines.append('[watches.marker]\nlogs = ["app*.log"]\nq = "MARKER"\nthreshold = 1\ncooldown = "0s"\n'
                     'notify = ["bench"]')
        for i in range(1, 20):
            flt = ['q = "ERROR"', 'level = ["error"]', 'field = ["status>=500"]', 'regex = "took=[0-9]{4,}ms"'][i % 4]
            lines.append(f'[watches.w{i}]\nlogs = ["app{i % 10}.log", "app{(i + 3) % 10}.log"]\n{flt}\n'
                         "threshold = 1000000")
    path = directory / ("watches.toml" if watches else "plain.toml")
    path.write_text("\n".join(lines) + "\n")
    return path


def pool(count: int = 5000) -> list[str]:
    rng = random.Random(1)
    return [f"2026-12-07T05:00:00Z {rng.choice(LEVELS)} request id={rng.randrange(10**6)} "
            f"status={rng.choice([200, 200, 200, 404, 500, 503])} path=/api/v1/items/{n} took=12ms\n"
            for n in range(count)]


def write(directory: Path, seconds: float, markers: float, written: list[tuple[int, float]]) -> None:
    """10,000 lines/s over the logs for `seconds` and `markers` marker lines a second; each marker's
    (number, write time) into `written`."""
    every = max(1, round(1 / (markers * TICK)))  # ticks between markers
    fds = [os.open(directory / log, os.O_WRONLY | os.O_APPEND) for log in LOGS]
    lines, at, tick = pool(), 0, 0
    try:
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            for fd in fds:
                os.write(fd, "".join(lines[at:at + 10]).encode())
                at = (at + 10) % (len(lines) - 10)
            if tick % every == 0:
                marker = len(written)
                now = time.time()
                os.write(fds[marker % len(fds)], f"{now:.6f} WARN MARKER n={marker}\n".encode())
                written.append((marker, now))
            tick += 1
            time.sleep(max(0.0, start + tick * TICK - time.perf_counter()))
    finally:
        for fd in fds:
            os.close(fd)


def receive(port: int, out: Path) -> None:
    """The receiver process: each alert's arrival time and body, one JSON line each, into `out`."""
    sink = out.open("a", buffering=1)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            at = time.time()
            with lock:
                sink.write(json.dumps({"at": at, "alert": json.loads(body)}) + "\n")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a server stopped between runs drops its kept-alive connection: not news

    Server(("127.0.0.1", port), Handler).serve_forever()


def run(directory: Path, watches: bool, seconds: float, markers: float, port: int,
        profile: Path | None = None) -> tuple[float, list[tuple[int, float]]]:
    """One server's run: its CPU in % of a core over the steady part, and the markers written; with
    `profile`, the steady part recorded by py-spy into that file (its summary printed)."""
    for log in LOGS:
        (directory / log).write_bytes(b"")
    shutil.rmtree(directory / "state", ignore_errors=True)  # each run starts afresh
    server = ServerProcess("logtail", ["--config", str(config(directory, port, watches))],
                           directory / "server.out", None)
    written: list[tuple[int, float]] = []
    server.start()
    try:
        writer = threading.Thread(target=write, args=(directory, seconds + WARMUP, markers, written))
        writer.start()
        time.sleep(WARMUP)  # the writer's schedule, not a wait for a condition: the CPU window starts here
        info: dict[str, object] = {}
        with pyspy.recording(server.pid, profile, info):
            cpu0, t0 = server.cpu_seconds(), time.monotonic()
            writer.join()
            cpu = (server.cpu_seconds() - cpu0) / (time.monotonic() - t0) * 100
        if profile is not None:
            print(json.dumps(info.get("profile"), indent=1))
        time.sleep(1.5)  # alerts of the last markers are still on their way (their p99 target is 1 s)
    finally:
        server.stop()
    return cpu, written


def latencies(out: Path, written: list[tuple[int, float]]) -> tuple[list[float], list[float], int]:
    """Each marker's latency in ms to the receiver and to the alert's firing (its `at`, the server's clock:
    the same machine), from the first alert that carries it, and how many never arrived."""
    arrived: dict[int, tuple[float, float]] = {}
    for line in out.read_text().splitlines():
        record = json.loads(line)
        for item in record["alert"]["lines"]:
            text = item["text"]
            if "MARKER n=" in text:
                arrived.setdefault(int(text.rsplit("=", 1)[1]), (record["at"], record["alert"]["at"]))
    times = dict(written)
    delivered = sorted((arrived[n][0] - times[n]) * 1000 for n in times if n in arrived)
    fired = sorted((arrived[n][1] - times[n]) * 1000 for n in times if n in arrived)
    return delivered, fired, sum(1 for n in times if n not in arrived)


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of steady writing per run")
    parser.add_argument("--markers", type=float, default=1.0, help="marker lines (so alerts) a second")
    parser.add_argument("--profile", metavar="FILE", help="record the servers by py-spy into FILE (with "
                        "watches) and FILE-without (their CPU is then not comparable)")
    parser.add_argument("--receive", nargs=2, metavar=("PORT", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receive:
        receive(int(args.receive[0]), Path(args.receive[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        port, out = free_port(), directory / "alerts.ndjson"
        receiver = subprocess.Popen([sys.executable, __file__, "--receive", str(port), str(out)],
                                    start_new_session=True)
        try:
            plain, watched, lat, fired, missing = [], [], [], [], 0
            for _ in range(args.rounds):
                profile = Path(args.profile) if args.profile else None
                plain.append(run(directory, False, args.duration, args.markers, port,
                                 profile and profile.with_stem(profile.stem + "-without"))[0])
                out.write_text("")
                cpu, written = run(directory, True, args.duration, args.markers, port, profile)
                watched.append(cpu)
                found, fire, lost = latencies(out, written)
                lat += found
                fired += fire
                missing += lost
        finally:
            receiver.terminate()
            receiver.wait(5)
    lat.sort()
    fired.sort()
    print(f"10 logs, 10,000 lines/s, 20 watches, no client, {args.markers:g} alert(s)/s; {args.rounds} round(s) of "
          f"{args.duration:.0f} s each; load average {os.getloadavg()[0]:.1f}")
    print("server CPU, % of a core: without watches " + " ".join(f"{c:.1f}" for c in plain)
          + "; with " + " ".join(f"{c:.1f}" for c in watched))
    print(f"added by the watches: {sum(watched) / len(watched) - sum(plain) / len(plain):.1f} % of a core (means)")
    print(f"alert latency (write of the marker -> receiver), {len(lat)} markers: p50 {percentile(lat, 0.5):.0f} ms,"
          f" p99 {percentile(lat, 0.99):.0f} ms, max {max(lat, default=float('nan')):.0f} ms; {missing} missing")
    print(f"  of which write -> alert fired: p50 {percentile(fired, 0.5):.0f} ms, p99 {percentile(fired, 0.99):.0f} ms")


if __name__ == "__main__":
    main()
