"""The many-hosts benchmark, shipping side: N `logtail ship` processes into one Redis and into a 3-master Redis
Cluster, each beside what that Redis takes from `redis-benchmark` in the same run.

    .venv/bin/python bench/redis_bench.py                       # 4 shippers x 250,000 lines, Redis then cluster
    .venv/bin/python bench/redis_bench.py --targets redis       # one Redis only
    .venv/bin/python bench/redis_bench.py --smoke --json r.json # tiny run for the test suite (one Redis)

For each target it starts its own servers (free loopback ports, temp dirs, no persistence), then:

- baseline: `redis-benchmark` sending XADDs of entries shaped like a shipper's in a burst (512 lines of
  `--line-bytes`, trimmed to a few entries a key; `--cluster` on the cluster), 4 connections pipelining 8,
  reported as entries/s and the lines/s they carry: what that Redis takes with a client costing ~nothing;
- shippers: N processes each following its own file, all files written at once; lines/s stored in Redis,
  the exact loss and duplicates (lines read back), shipper CPU per million lines, Redis bytes per 100,000
  entries and lines, and each redis-server's CPU and lines held (per shard on the cluster).

The write -> client latency of shipped logs is bench/redis_fleet.py's (readers in their own processes).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from report import emit  # noqa: E402

from logtail.sources.redis import keys  # noqa: E402

Client = redis.Redis | redis.RedisCluster
ENTRY_LINES = 512  # a shipper's entry in a burst (keys.ENTRY_LINES)


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


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class Processes:
    """Every process the run starts, each in its own session, stopped by PID at the end."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, args: list[str], name: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        # Run from the temp directory: `python -m logtail` run from the checkout would import the checkout's
        # code ahead of PYTHONPATH (sys.path[0] is the working directory), so a `before` code put there first
        # would not be what runs.
        with (self.dir / f"{name}.log").open("wb") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                    cwd=self.dir, env=env)
        self.procs.append(proc)
        return proc

    def stop(self, procs: list[subprocess.Popen[bytes]] | None = None) -> None:
        chosen = self.procs if procs is None else procs
        for proc in chosen:
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
        for proc in chosen:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait(5)


class Servers:
    """One redis-server, or three cluster masters, started by `start`; `client()` talks to either."""

    def __init__(self, procs: Processes, directory: Path, cluster: bool) -> None:
        self.procs, self.dir, self.cluster = procs, directory, cluster
        self.ports: list[int] = []
        self.servers: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return f"redis{'+cluster' if self.cluster else ''}://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> Servers:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        for i in range(3 if self.cluster else 1):
            port = free_port()
            node_dir = self.dir / f"redis-{port}"
            node_dir.mkdir()
            args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--dir", str(node_dir)]
            if self.cluster:
                args += ["--cluster-enabled", "yes", "--cluster-config-file", str(node_dir / "nodes.conf"),
                         "--cluster-port", str(free_port())]  # the bus port, free too (default: port + 10000)
            self.servers.append(self.procs.start(args, f"redis-{i}"))
            self.ports.append(port)
            wait(lambda p=port: _pings(redis.Redis(port=p)), 10, f"redis-server on {port}")  # type: ignore[misc]
        if self.cluster:
            cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
            subprocess.run([cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports),
                            "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True, timeout=60)
            wait(lambda: all(b"cluster_state:ok" in _cluster_info(p) for p in self.ports), 30, "cluster state ok")
        return self

    def client(self) -> Client:
        if self.cluster:
            return redis.RedisCluster(host="127.0.0.1", port=self.ports[0], socket_timeout=30)
        return redis.Redis(port=self.ports[0], socket_timeout=30)

    def port_of(self, key: str) -> int:
        client = self.client()
        if isinstance(client, redis.RedisCluster):
            return int(client.get_node_from_key(key).port)
        return self.ports[0]

    def cpu(self) -> dict[int, float]:
        return {port: cpu_seconds(p.pid) for port, p in zip(self.ports, self.servers, strict=True)}


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def _cluster_info(port: int) -> bytes:
    reply = redis.Redis(port=port).execute_command("CLUSTER", "INFO")
    return reply if isinstance(reply, bytes) else str(reply).encode()


def baseline(servers: Servers, line_bytes: int, requests: int) -> dict[str, Any]:
    """redis-benchmark: XADDs of a burst entry's size to 100 keys (each kept to its last 5 entries)."""
    payload = "\n".join(f"{i:09d} {'x' * (line_bytes - 11)}" for i in range(ENTRY_LINES))
    binary = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"
    cluster = ["--cluster"] if servers.cluster else []
    key = "bench:{tag}:__rand_int__" if servers.cluster else "bench:__rand_int__"  # {tag}: a slot per node
    done = subprocess.run([binary, "-h", "127.0.0.1", "-p", str(servers.ports[0]), *cluster, "-c", "4", "-P", "8",
                           "-n", str(requests), "-r", "100", "--csv",
                           "XADD", key, "MAXLEN", "5", "*", "lines", payload],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"redis-benchmark failed ({done.returncode}): {(done.stderr or done.stdout)[-2000:]}")
    rows = [r for r in csv.reader(io.StringIO(done.stdout)) if len(r) > 1 and r[0] != "test"]
    entries = float(rows[-1][1])
    return {"tool": "redis-benchmark -c 4 -P 8 XADD", "entries_per_s": round(entries),
            "lines_per_s": round(entries * ENTRY_LINES), "lines_per_entry": ENTRY_LINES}


def stored_lines(client: Client, key: str) -> int:
    """Lines in a stream, counted exactly (one XRANGE pass)."""
    total, low = 0, "-"
    while True:
        found: Any = client.xrange(key, low, "+", count=5000)
        for _id, fields in found:
            text = fields.get(b"lines")
            total += 0 if text is None else text.count(b"\n") + 1
        if len(found) < 5000:
            return total
        low = "(" + found[-1][0].decode()


def _last_end(client: Client, key: str) -> str | None:
    found: Any = client.xrevrange(key, "+", "-", count=1)
    return found[0][1].get(b"end", b"").decode() if found else None


def ship(procs: Processes, servers: Servers, directory: Path, shippers: int, lines: int, line_bytes: int
         ) -> dict[str, Any]:
    """N shippers, one file each, written at once: lines/s into Redis, loss, CPU of shippers and servers."""
    client = servers.client()
    hosts = [f"bench{i}" for i in range(shippers)]
    stream_keys = {h: keys.stream_key(h, "app.log") for h in hosts}
    logs = [directory / f"app{i}.log" for i in range(shippers)]
    started = []
    for host, log in zip(hosts, logs, strict=True):
        log.touch()
        started.append(procs.start([sys.executable, "-m", "logtail", "ship", f"app.log={log}",
                                    "--host-name", host, "--redis", servers.url,
                                    # keep every line of the run: the loss count reads them all back
                                    "--redis-maxlen", str(max(100_000, 2 * lines))], f"ship-{host}"))
    wait(lambda: len(client.hkeys(keys.LOGS_KEY)) == shippers, 60, "every shipper registered")  # type: ignore[arg-type]
    cpu0, server_cpu0 = sum(cpu_seconds(p.pid) for p in started), servers.cpu()
    payload = "".join(f"{i:09d} {'x' * (line_bytes - 11)}\n" for i in range(lines)).encode()
    start = time.monotonic()
    for log in logs:
        with log.open("ab") as f:
            f.write(payload)
    size = str(len(payload))

    def done() -> bool:  # each stream's last entry ends where the file does (cheap: one entry per stream)
        return all(_last_end(client, k) == size for k in stream_keys.values())
    wait(done, 600, "every line stored")
    elapsed = time.monotonic() - start
    cpu = sum(cpu_seconds(p.pid) for p in started) - cpu0
    server_cpu = {port: s - server_cpu0[port] for port, s in servers.cpu().items()}
    procs.stop(started)
    counts = {h: stored_lines(client, k) for h, k in stream_keys.items()}  # exactly, once the run is over
    memory = sum(int(client.memory_usage(k, samples=0) or 0) for k in stream_keys.values())  # type: ignore[arg-type]
    entries = sum(int(client.xlen(k)) for k in stream_keys.values())  # type: ignore[arg-type]
    total = lines * shippers
    shards: dict[int, dict[str, Any]] = {p: {"port": p, "hosts": [], "lines": 0} for p in servers.ports}
    for host, key in stream_keys.items():
        shard = shards[servers.port_of(key)]
        shard["hosts"].append(host)
        shard["lines"] += counts[host]
    for port, shard in shards.items():
        shard["lines_per_s"] = round(shard["lines"] / elapsed)
        shard["cpu_percent_of_a_core"] = round(100 * server_cpu[port] / elapsed, 1)
    return {
        "shippers": shippers, "lines_written": total, "lines_stored": sum(counts.values()),
        "loss": total - sum(min(n, lines) for n in counts.values()),
        "duplicates": sum(max(0, n - lines) for n in counts.values()),
        "lines_per_s": round(total / elapsed), "seconds": round(elapsed, 2),
        "shipper_cpu_s_per_million": round(cpu / total * 1e6, 2),
        "shipper_cpu_percent_of_a_core": round(100 * cpu / elapsed, 1),
        "redis_bytes_per_100k_entries": round(memory / max(entries, 1) * 100_000),
        "redis_bytes_per_100k_lines": round(memory / total * 100_000),
        "entries": entries, "servers": list(shards.values()),
    }


def run_target(cluster: bool, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="logtail-redis-bench-") as tmp:
        procs = Processes(Path(tmp))
        try:
            servers = Servers(procs, Path(tmp), cluster).start()
            result: dict[str, Any] = {"load_before": load_average()}
            if not args.no_baseline:
                result["baseline"] = baseline(servers, args.line_bytes, args.baseline_requests)
            result["shipped"] = ship(procs, servers, Path(tmp), args.shippers, args.lines, args.line_bytes)
            result["load_after"] = load_average()
            if "baseline" in result:
                result["shipped_vs_baseline"] = round(result["shipped"]["lines_per_s"]
                                                      / result["baseline"]["lines_per_s"], 3)
            return result
        finally:
            procs.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shippers", type=int, default=4)
    parser.add_argument("--lines", type=int, default=250_000, help="lines written per shipper's file")
    parser.add_argument("--line-bytes", type=int, default=110)
    parser.add_argument("--targets", default="redis,cluster", help="redis, cluster or both (comma-separated)")
    parser.add_argument("--baseline-requests", type=int, default=4000, help="XADDs redis-benchmark sends")
    parser.add_argument("--no-baseline", action="store_true", help="skip redis-benchmark")
    parser.add_argument("--smoke", action="store_true", help="2 shippers x 2,000 lines, one Redis, no baseline")
    parser.add_argument("--json", help="write the report here too")
    args = parser.parse_args(argv)
    if args.smoke:
        args.shippers, args.lines, args.targets, args.no_baseline = 2, 2000, "redis", True
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if not targets or set(targets) - {"redis", "cluster"}:
        parser.error(f"--targets: redis and/or cluster, got {args.targets!r}")
    report: dict[str, Any] = {"command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
                              "cores": os.cpu_count()}
    for target in targets:
        report[target] = run_target(target == "cluster", args)
    return emit(report, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
