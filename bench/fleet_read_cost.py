"""A web node's CPU per shipped entry on 1,000 quiet streams, in process: its read loop, the hub and 10 clients.

    .venv/bin/python bench/fleet_read_cost.py                         # this checkout, 3 runs
    .venv/bin/python bench/fleet_read_cost.py --before /tmp/old       # runs alternated with an unpacked commit

The part of `redis_fleet.py`'s row that is the node's own Python, without HTTP or the other processes of that
bench competing for the CPU: a real redis-server holds 100 hosts x 10 logs; each cycle XADDs one entry of one
line to every stream (a quiet shipper's entry, `fid`, `end`, `lines`, `n`), then times, as CPU time of this
process, the node's reading step (`StreamReader`: one XREAD of every stream, decoding, publishing to the hub)
and what 10 multi-log SSE clients of 100 logs each take from their queues (`Subscription.take`: each line's
frame and id). Each run is a fresh process on a flushed Redis; with `--before DIR` (the code of another
commit, e.g. `git archive COMMIT | tar -x -C DIR`, put first on PYTHONPATH) runs alternate, before first,
and the report gives each pair's ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
HOSTS, LOGS, CLIENTS = 100, 10, 10


async def measure(port: int, cycles: int) -> dict[str, Any]:
    """One run, in this process, with whatever `logtail` is first on the path."""
    import logtail
    from logtail.config import Settings
    from logtail.core.hub import Hub
    from logtail.core.subscription import Subscription
    from logtail.match.filters import LineFilter
    from logtail.sources.redis import keys
    from logtail.sources.redis.source import RedisSource

    client = redis.Redis(port=port)
    names = [f"log{j}.log@host{i:03d}" for i in range(HOSTS) for j in range(LOGS)]
    streams = [keys.stream_key(n.split("@")[1], n.split("@")[0]) for n in names]
    now = time.time()
    client.hset(keys.LOGS_KEY, mapping={n: keys.registry_value(n.split("@")[1], n.split("@")[0], "/x", now)
                                        for n in names})
    for key in streams:
        client.xadd(key, keys.line_fields(["start"], [], "0123456789ab", 6))
    settings = Settings(redis=f"redis://127.0.0.1:{port}/0")
    hub = Hub(settings.window_lines, settings.queue_bytes)
    source = RedisSource(settings, hub)
    reader = source.reader
    await reader._step()  # the registry read, every log seeded
    per = len(names) // CLIENTS
    subs = []
    for c in range(CLIENTS):
        logs = names[c * per:(c + 1) * per]
        sub = Subscription(logs, LineFilter(), "sse", 1 << 30, True)
        sub.begin([], {n: hub.channel(n).position for n in logs}, {})
        hub.subscribe(logs, sub)
        subs.append(sub)
    for sub in subs:
        sub.take()
    read = take = 0.0
    out = 0
    for r in range(cycles):
        pipe = client.pipeline(transaction=False)
        for i, key in enumerate(streams):
            pipe.xadd(key, {"fid": "0123456789ab", "end": str(100 * (r + 2)),
                            "lines": f"seq={r} ts={time.time_ns()} src={names[i]} GET /api/items/{r} 200 12ms",
                            "n": str(r + 2)})
        pipe.execute()
        t0 = time.process_time()
        await reader._step()
        t1 = time.process_time()
        out += sum(len(sub.take()) for sub in subs)
        t2 = time.process_time()
        read += t1 - t0
        take += t2 - t1
    entries = cycles * len(streams)
    published = sum(hub.channel(n).stats.lines_read for n in names) - len(names)
    await source.close()
    if published != entries:
        raise SystemExit(f"{published} of {entries} entries published: not every stream was read in one step")
    return {"code": str(Path(logtail.__file__).parent.parent), "entries": entries,
            "read_publish_us_per_entry": round(read / entries * 1e6, 2),
            "take_us_per_entry": round(take / entries * 1e6, 2),
            "total_us_per_entry": round((read + take) / entries * 1e6, 2),
            "bytes_to_clients_per_entry": round(out / entries)}


def run_child(port: int, cycles: int, code: str | None) -> dict[str, Any]:
    redis.Redis(port=port).flushall()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if code:
        env["PYTHONPATH"] = code
    done = subprocess.run([sys.executable, __file__, "--child", str(port), "--cycles", str(cycles)], env=env,
                          capture_output=True, text=True, timeout=600, check=False, cwd="/")
    if done.returncode:
        raise SystemExit(f"run failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=30, help="entries per stream per run (one per cycle)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before", help="a directory holding another commit's code, run alternately, first")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(measure(args.child, args.cycles))))
        return 0
    sys.path.insert(0, str(ROOT / "bench"))
    from redis_bench import Processes, Servers, load_average

    with tempfile.TemporaryDirectory(prefix="logtail-readcost-") as tmp:
        procs = Processes(Path(tmp))
        try:
            port = Servers(procs, Path(tmp), cluster=False).start().ports[0]
            report: dict[str, Any] = {"command": " ".join(sys.argv), "cores": os.cpu_count(),
                                      "load_before": load_average(), "runs": []}
            for _ in range(args.runs):
                pair = {}
                if args.before:
                    pair["before"] = run_child(port, args.cycles, args.before)
                pair["after"] = run_child(port, args.cycles, str(ROOT))
                if args.before:
                    pair["after_over_before"] = round(pair["after"]["total_us_per_entry"]
                                                      / pair["before"]["total_us_per_entry"], 3)
                report["runs"].append(pair)
            report["load_after"] = load_average()
        finally:
            procs.stop()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
