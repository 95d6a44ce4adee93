"""The many-hosts benchmark, reading side: one web node serving a fleet's shipped logs to dashboard clients.

    .venv/bin/python bench/redis_fleet.py                  # 100 hosts x 10 logs at 10 lines/s each, 10 clients
    .venv/bin/python bench/redis_fleet.py --smoke          # 5 hosts x 2 logs, 2 clients, 3 s

Starts its own redis-server (free loopback port, temp dir, no persistence) and one `logtail serve --redis`
node, then runs, each in its own process:

- a writer that stores entries shaped like a quiet shipper's (one line each) into every stream at
  `--rate` lines/s per stream, spread evenly over time; each line carries its sequence number in its stream
  and the wall-clock time just before the XADD that stored it (`time.time_ns()`);
- `--clients` dashboard clients (SSE, as the page opens them), each on `--logs-per-client` of the logs (the
  clients together cover every log), which check every line's sequence (loss, repeats) and record each
  line's latency from its XADD to its arrival: ship-to-client;
- a baseline: a bare redis-py client doing the same blocking XREAD over every stream, decoding and timing
  the same lines: what reading these streams costs with no web node at all. By default it has a window of
  its own after the node's, with the node stopped and the same writing (`--baseline apart`): on 2 cores, a
  bare client taking half a core beside the node made the node's latency the two's contention;
  `--baseline alongside` runs it in the node's window as before;
- with `--floor`, the floor (bench/fleet_floor.py) in a window of its own, the node stopped: the least any
  Python process spends relaying these lines to its clients, so the lowest CPU a node could reach here.

Reports the node's CPU as % of a core over the measured window, the baseline's, and p50/p99/max latency of
both, with loss and repeats per side; the node's resident memory at the window's end and its garbage
collector's passes (watched from outside its code: bench/gcstats/sitecustomize.py), the window's longest. The
machine's load average is recorded before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import socket
import sys
import tempfile
import threading
import time
from array import array
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pyspy  # noqa: E402
from fleet_floor import floor_main, last_ids, sink_main  # noqa: E402
from redis_bench import Processes, Servers, cpu_seconds, free_port, load_average, wait  # noqa: E402
from report import emit  # noqa: E402

from logtail.sources.redis import keys  # noqa: E402
from logtail.sources.redis.reader import READ_EVERY  # noqa: E402

LINE = re.compile(rb"seq=(\d+) ts=(\d+) src=([\w.@-]+)")
FID = "0123456789ab"
DRAIN = 60.0  # seconds a client waits, once the writer is done, for the last lines before counting them missing


def log_names(hosts: int, logs: int) -> list[str]:
    return [f"log{j}.log@host{i:03d}" for i in range(hosts) for j in range(logs)]


def stream_of(name: str) -> str:
    log, host = name.split("@")
    return keys.stream_key(host, log)


class Tally:
    """Lines received per log, in sequence: loss, repeats and latencies (ms)."""

    def __init__(self, names: list[str]) -> None:
        self.next = dict.fromkeys(names, 0)
        self.missing = self.repeated = self.lines = 0
        self.latency = array("d")

    def add(self, data: bytes, now: int) -> None:
        for seq_b, ts_b, src_b in LINE.findall(data):
            seq, src = int(seq_b), src_b.decode()
            expected = self.next.get(src)
            if expected is None:
                continue
            self.lines += 1
            if seq < expected:
                self.repeated += 1
                continue
            self.missing += seq - expected
            self.next[src] = seq + 1
            self.latency.append((now - int(ts_b)) / 1e6)

    def add_chunk(self, rest: bytes, chunk: bytes, now: int) -> bytes:
        """A chunk read after `rest` (the unfinished end of the chunk before): its whole lines added, the new
        unfinished end returned. A line split across two chunks is counted once, whole."""
        data = rest + chunk
        whole = data.rfind(b"\n") + 1
        self.add(data[:whole], now)
        return data[whole:]

    def complete(self, sent: int) -> bool:
        return all(n >= sent for n in self.next.values())

    def report(self, sent: int) -> dict[str, Any]:
        # Lines never received at the end count as missing too: `sent` lines were written to each log.
        tail = sum(max(0, sent - n) for n in self.next.values())
        return {"lines": self.lines, "missing": self.missing + tail, "holes": self.missing, "repeated": self.repeated,
                "latency_ms": list(self.latency)}


def client_main(base: str, groups: list[list[str]], pipe: Connection) -> None:
    """Dashboard clients (one SSE stream each), in this process, until the parent says stop."""
    async def run() -> None:
        tallies = [Tally(g) for g in groups]
        async with httpx.AsyncClient(timeout=httpx.Timeout(30, read=None)) as http:
            async def one(names: list[str], tally: Tally) -> None:
                query = "&".join(f"log={n}" for n in names)
                async with http.stream("GET", f"{base}/api/stream?{query}&backlog=0") as response:
                    response.raise_for_status()
                    rest = b""
                    async for chunk in response.aiter_raw():
                        rest = tally.add_chunk(rest, chunk, time.time_ns())
            tasks = [asyncio.create_task(one(g, t)) for g, t in zip(groups, tallies, strict=True)]
            await asyncio.sleep(1)  # the streams are open (the parent waits for the node's client count too)
            pipe.send("ready")
            sent = await asyncio.to_thread(pipe.recv)
            deadline = time.monotonic() + DRAIN
            while time.monotonic() < deadline and not all(t.complete(sent) for t in tallies):  # noqa: ASYNC110
                await asyncio.sleep(0.05)  # (the tallies are plain counters: polling them is all there is)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        pipe.send([t.report(sent) for t in tallies])
    asyncio.run(run())


def baseline_main(port: int, names: list[str], pipe: Connection) -> None:
    """A bare client: blocking XREAD over every stream from now on, every line decoded and timed."""
    client = redis.Redis(port=port, socket_timeout=10)
    read = [stream_of(n) for n in names]
    after = {key: last.decode() for key, last in zip(read, last_ids(client, [k.encode() for k in read]), strict=True)}
    tally = Tally(names)
    pipe.send("ready")
    cpu0 = time.process_time()
    sent, cpu, deadline = -1, 0.0, 0.0
    while sent < 0 or (not tally.complete(sent) and time.monotonic() < deadline):
        if sent < 0 and pipe.poll():  # the writer is done: measure up to here, then drain
            sent, cpu, deadline = pipe.recv(), time.process_time() - cpu0, time.monotonic() + DRAIN
        found: Any = client.xread(after, count=1000, block=100)  # type: ignore[arg-type]
        now = time.time_ns()
        for key, entries in found or []:
            for _entry_id, fields in entries:
                tally.add(fields.get(b"lines", b""), now)
            after[key.decode()] = entries[-1][0].decode()
    pipe.send({**tally.report(sent), "cpu_s": cpu, "cpu_s_total": time.process_time() - cpu0})


def writer_main(port: int, names: list[str], rate: float, seconds: float, pipe: Connection) -> None:
    """Every stream gets `rate` lines/s; the streams take turns in 100 slots a second. The XADDs are written
    as raw RESP on one socket (a pipelined client costing ~1 us an entry), so that on a loaded machine the
    writer keeps its schedule rather than becoming what is measured."""
    sock = socket.create_connection(("127.0.0.1", port))
    replies = Replies(sock)
    slots = 100
    per_slot = [[(name, _bulk(stream_of(name).encode())) for name in names[i::slots]] for i in range(slots)]
    rounds = int(rate * seconds)
    ends = dict.fromkeys(names, 0)
    worst = 0.0  # seconds the writer was behind its schedule, at worst
    start = time.monotonic()
    for r in range(rounds):
        for s, group in enumerate(per_slot):
            delay = start + (r + s / slots) / rate - time.monotonic()  # an absolute schedule: no drift
            if delay > 0:
                time.sleep(delay)
            worst = max(worst, -delay)
            now = time.time_ns()
            out = []
            for name, key in group:
                text = f"seq={r} ts={now} src={name}".encode()
                ends[name] += len(text) + 1
                out.append(b"*9\r\n$4\r\nXADD\r\n" + key + b"$1\r\n*\r\n$3\r\nfid\r\n" + _bulk(FID.encode())
                           + b"$3\r\nend\r\n" + _bulk(str(ends[name]).encode()) + b"$5\r\nlines\r\n" + _bulk(text))
            sock.sendall(b"".join(out))
            replies.expect(len(group))
    replies.wait()
    pipe.send({"rounds": rounds, "seconds": round(time.monotonic() - start, 2),
               "behind_schedule_max_ms": round(worst * 1000, 1)})


def _bulk(data: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(data), data)


class Replies(threading.Thread):
    """Reads the XADD replies (each a bulk string: two CRLFs) beside the writer, so that a round trip per
    slot does not pace it; an error reply ends the run."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.sock, self.sent, self.got, self.error = sock, 0, 0, b""
        self.start()

    def expect(self, count: int) -> None:
        self.sent += count

    def run(self) -> None:
        crlfs, tail = 0, b""
        while chunk := self.sock.recv(262144):
            if b"\r\n-" in tail[-2:] + chunk or chunk.startswith(b"-"):
                self.error = chunk[:200]
                return
            data = tail[-1:] + chunk  # a CRLF split across two reads is counted once
            crlfs += data.count(b"\r\n")
            tail = chunk
            self.got = crlfs // 2

    def wait(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.got < self.sent and not self.error and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.error or self.got < self.sent:
            raise SystemExit(f"redis: {self.got} of {self.sent} XADDs answered {self.error!r}")


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "max": None}
    ordered = sorted(values)
    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)
    return {"p50": at(0.5), "p99": at(0.99), "max": round(ordered[-1], 1)}


def register(client: redis.Redis, names: list[str]) -> None:
    now = time.time()
    mapping: dict[Any, Any] = {}
    for name in names:
        log, host = name.split("@")
        mapping[name] = keys.registry_value(host, log, f"/var/log/{log}", now)
        client.xadd(stream_of(name), keys.line_fields(["seq=-1 ts=0 src=start"], [], FID, 0))
    client.hset(keys.LOGS_KEY, mapping=mapping)


def gauge(base: str, name: str = "logtail_clients", timeout: float = 5) -> float:
    for line in httpx.get(f"{base}/metrics", timeout=timeout).text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return 0.0


def gc_watched(out: Path) -> dict[str, str]:
    """The node's environment with its garbage collector watched (bench/gcstats/sitecustomize.py)."""
    path = os.pathsep.join(p for p in (str(Path(__file__).parent / "gcstats"), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "LOGTAIL_BENCH_GC_FILE": str(out)}


def gc_passes(watched: Path, since: float) -> dict[str, Any]:
    """The node's collector passes: totals per generation since it started, and the passes of the measured
    window (since `since`, wall clock) that took 5 ms or more, longest first."""
    wait(watched.exists, 5, "the node's garbage-collector record")
    state = json.loads(watched.read_text())
    window = sorted(((ms, gen) for at, gen, ms in state["noted"] if at >= since), reverse=True)
    return {"totals_since_start": state["totals"], "window_passes_over_5ms": len(window),
            "window_longest_ms": [{"generation": gen, "ms": ms} for ms, gen in window[:5]]}


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return round(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def run(args: argparse.Namespace) -> dict[str, Any]:
    names = log_names(args.hosts, args.logs)
    per = args.logs_per_client
    groups = [names[(i * per) % len(names):(i * per) % len(names) + per] for i in range(args.clients)]
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="logtail-fleet-") as tmp:
        procs = Processes(Path(tmp))
        children: list[multiprocessing.process.BaseProcess] = []
        try:
            servers = Servers(procs, Path(tmp), cluster=False).start()
            port = servers.ports[0]
            register(redis.Redis(port=port), names)
            web_port = free_port()
            gc_file = Path(tmp) / "node-gc.json"
            node = procs.start([sys.executable, "-m", "logtail", "serve", "--port", str(web_port), "--redis",
                                servers.url, "--log-level", "warning"], "web", gc_watched(gc_file))
            base = f"http://127.0.0.1:{web_port}"
            wait(lambda: _count_logs(base) >= len(names), 60, f"{len(names)} logs listed by the node")
            pipes: dict[str, Connection] = {}
            for i in range(args.reader_procs):
                mine = groups[i::args.reader_procs]
                pipes[f"clients{i}"], theirs = ctx.Pipe()
                children.append(ctx.Process(target=client_main, args=(base, mine, theirs), daemon=True))
            if args.baseline == "alongside":
                pipes["baseline"], theirs = ctx.Pipe()
                children.append(ctx.Process(target=baseline_main, args=(port, names, theirs), daemon=True))
            for child in children:
                child.start()
            for p in pipes.values():
                if not p.poll(60):
                    raise SystemExit("a reader process did not start")
                p.recv()
            wait(lambda: gauge(base) >= args.clients, 30, "every client connected")
            time.sleep(args.settle)  # the node's idle state, before the measured window
            report: dict[str, Any] = {"load_before": load_average()}
            cpu0, redis_cpu0, t0 = cpu_seconds(node.pid), servers.cpu()[port], time.monotonic()
            profile = Path(args.profile) / "fleet-node.txt" if args.profile else None
            with pyspy.recording(node.pid, profile, report):
                report["writer"] = write(ctx, port, names, args.rate, args.seconds, children)
            elapsed = time.monotonic() - t0
            report["node_gc"] = gc_passes(gc_file, time.time() - elapsed)
            report["node_rss_mb"] = rss_mb(node.pid)
            report["node_cpu_percent_of_a_core"] = round(100 * (cpu_seconds(node.pid) - cpu0) / elapsed, 2)
            report["redis_cpu_percent_of_a_core"] = round(100 * (servers.cpu()[port] - redis_cpu0) / elapsed, 2)
            report["load_after"] = load_average()
            # Clients whose queue overflowed and who now read back from Redis on their own (overflow=catchup).
            try:  # a node far behind may take long to answer (the answer is then a finding too)
                report["clients_catching_up_at_window_end"] = gauge(base, "logtail_clients_catching_up", 60)
            except httpx.HTTPError as exc:
                report["clients_catching_up_at_window_end"] = f"/metrics did not answer: {exc!r}"
            sent = report["writer"]["rounds"]
            for p in pipes.values():
                p.send(sent)
            results = {k: p.recv() for k, p in pipes.items() if p.poll(DRAIN + 30)}
            node_cpu_total = cpu_seconds(node.pid) - cpu0  # also what it spent catching up after the window
            base_elapsed = elapsed
            if args.baseline == "apart":  # the node stopped: the baseline meets the same writing on its own
                procs.stop([node])
                results["baseline"], base_elapsed = baseline_apart(ctx, port, names, args.rate, args.seconds)
            floor: dict[str, Any] | None = None
            if args.floor:
                procs.stop([node])
                floor = floor_apart(ctx, port, groups, args.rate, args.seconds, args.floor_every)
        finally:
            for child in children:
                if child.is_alive():
                    child.kill()
                child.join(5)
            procs.stop()
    base_result = results.pop("baseline", None)
    clients = [c for r in results.values() for c in r]
    latency = [x for c in clients for x in c["latency_ms"]]
    report["clients"] = {
        "clients": len(clients), "logs_each": per, "lines_expected": sent * per * len(clients),
        "lines": sum(c["lines"] for c in clients), "missing": sum(c["missing"] for c in clients),
        "holes": sum(c["holes"] for c in clients), "repeated": sum(c["repeated"] for c in clients),
        "ship_to_client_ms": percentiles(latency),
    }
    # CPU time per line holds up better than % of a core on a loaded machine: a node that gets less CPU than
    # it needs falls behind and catches up after the window, so its whole run's CPU over the lines it sent.
    delivered = report["clients"]["lines"]
    report["node_cpu_s_per_million_lines"] = round(node_cpu_total / max(delivered, 1) * 1e6, 2)
    if base_result is not None:
        report["baseline"] = {
            "what": "redis-py XREAD BLOCK over every stream, one process",
            "lines": base_result["lines"], "missing": base_result["missing"], "repeated": base_result["repeated"],
            "when": args.baseline,
            "cpu_percent_of_a_core": round(100 * base_result["cpu_s"] / base_elapsed, 2),
            "cpu_s_per_million_lines": round(base_result["cpu_s_total"] / max(base_result["lines"], 1) * 1e6, 2),
            "ship_to_client_ms": percentiles(base_result["latency_ms"]),
        }
    if floor is not None:
        report["floor"] = floor
    return report


def floor_apart(ctx: Any, port: int, groups: list[list[str]], rate: float, seconds: float, every: float
                ) -> dict[str, Any]:
    """The floor (bench/fleet_floor.py) in a window of its own, the node stopped: its CPU and its clients'
    lines, as the node's are reported."""
    sink_pipe, theirs = ctx.Pipe()
    started = [ctx.Process(target=sink_main, args=([Tally(g) for g in groups], DRAIN, theirs), daemon=True)]
    started[0].start()
    try:
        if not sink_pipe.poll(60):
            raise SystemExit("the floor's clients did not start")
        floor_pipe, theirs = ctx.Pipe()
        streams = [[stream_of(n).encode() for n in g] for g in groups]
        started.append(ctx.Process(target=floor_main, args=(port, sink_pipe.recv(), streams, every, theirs),
                                   daemon=True))
        started[1].start()
        for pipe in (floor_pipe, sink_pipe):
            if not pipe.poll(60):
                raise SystemExit("the floor did not start")
            pipe.recv()
        t0 = time.monotonic()
        sent = write(ctx, port, [n for g in groups for n in g], rate, seconds, started)["rounds"]
        elapsed = time.monotonic() - t0
        floor_pipe.send(sent)
        cpu = floor_pipe.recv() if floor_pipe.poll(30) else float("nan")
        sink_pipe.send(sent)
        if not sink_pipe.poll(DRAIN + 30):
            raise SystemExit("the floor's clients did not report")
        tallies = sink_pipe.recv()
        floor_pipe.send("stop")
    finally:
        for proc in started:
            if proc.is_alive():
                proc.kill()
            proc.join(5)
    return {"what": f"hiredis on a raw socket, the node's XREAD every {every * 1000:g} ms, one SSE frame per "
                    "line, one write per client per read (bench/fleet_floor.py)",
            "cpu_percent_of_a_core": round(100 * cpu / elapsed, 2),
            "lines": sum(t["lines"] for t in tallies), "missing": sum(t["missing"] for t in tallies),
            "repeated": sum(t["repeated"] for t in tallies),
            "ship_to_client_ms": percentiles([x for t in tallies for x in t["latency_ms"]])}


def baseline_apart(ctx: Any, port: int, names: list[str], rate: float, seconds: float) -> tuple[Any, float]:
    """The baseline in a window of its own, after the node's (`--baseline apart`): the same writing, nothing
    else reading. Its report and the window's length."""
    mine, theirs = ctx.Pipe()
    child = ctx.Process(target=baseline_main, args=(port, names, theirs), daemon=True)
    child.start()
    started = [child]
    try:
        if not mine.poll(60):
            raise SystemExit("the baseline did not start")
        mine.recv()
        t0 = time.monotonic()
        sent = write(ctx, port, names, rate, seconds, started)["rounds"]
        elapsed = time.monotonic() - t0
        mine.send(sent)
        if not mine.poll(DRAIN + 30):
            raise SystemExit("the baseline did not report")
        return mine.recv(), elapsed
    finally:
        for proc in started:
            if proc.is_alive():
                proc.kill()
            proc.join(5)


def write(ctx: Any, port: int, names: list[str], rate: float, seconds: float,
          started: list[multiprocessing.process.BaseProcess]) -> Any:
    """The writer's run, in its own process (added to `started`, for the caller to stop), to its end; its
    report."""
    pipe, theirs = ctx.Pipe()
    writer = ctx.Process(target=writer_main, args=(port, names, rate, seconds, theirs), daemon=True)
    writer.start()
    started.append(writer)
    if not pipe.poll(seconds * 3 + 60):
        raise SystemExit("the writer did not finish")
    return pipe.recv()


def _count_logs(base: str) -> int:
    try:
        return len(httpx.get(f"{base}/api/logs", timeout=5).json())
    except (httpx.HTTPError, ValueError):
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--logs", type=int, default=10, help="logs per host")
    parser.add_argument("--rate", type=float, default=10.0, help="lines/s per log")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the measured window")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--logs-per-client", type=int, default=100)
    parser.add_argument("--reader-procs", type=int, default=2, help="processes the clients are spread over")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds between connecting and measuring")
    parser.add_argument("--smoke", action="store_true", help="5 hosts x 2 logs, 2 clients of 5 logs, 3 s")
    parser.add_argument("--profile", help="record the node with py-spy into this directory (bench/pyspy.py)")
    parser.add_argument("--json", help="write the report here too")
    parser.add_argument("--baseline", choices=("apart", "alongside"), default="apart",
                        help="the bare client's window: after the node's, the node stopped (default), or the same"
                             " window beside it (on 2 cores they compete for the CPU)")
    parser.add_argument("--floor", action="store_true",
                        help="also run the floor (bench/fleet_floor.py) in a window of its own, the node stopped")
    parser.add_argument("--floor-every", type=float, default=READ_EVERY,
                        help="the floor's seconds between reads while entries keep coming (default: the node's)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.hosts, args.logs, args.clients, args.logs_per_client, args.seconds = 5, 2, 2, 5, 3.0
        args.settle = 1.0
    report = {"command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]), "cores": os.cpu_count(),
              **run(args)}
    return emit(report, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
