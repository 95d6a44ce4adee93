"""What a node's windows cost in memory: bytes and garbage-collector-tracked objects per line kept.

    .venv/bin/python bench/window_memory.py                # 1,000 shipped logs x 100 lines
    .venv/bin/python bench/window_memory.py --lines 300    # x 300

In process: a hub with a window large enough for every line, 1,000 logs named as shipped ones, and lines
decoded from Redis entries as a web node decodes them (`keys.decode_raw`, one line of ~70 bytes each, the
shape of bench/redis_fleet.py's), published one per block as a quiet log's are; one multi-log SSE client
takes a tenth of the logs, so those lines also hold their encodings. Reports the process's resident memory
added per line and the tracked objects per line (what a full pass of the collector goes through).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from logtail.core.cursor import Cursor  # noqa: E402
from logtail.core.hub import Hub  # noqa: E402
from logtail.core.subscription import Subscription  # noqa: E402
from logtail.match.filters import LineFilter  # noqa: E402
from logtail.sources.redis import keys  # noqa: E402


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(lines_per_log: int, logs: int = 1000) -> dict[str, float]:
    names = [f"log{j}.log@host{i:03d}" for i in range(logs // 10) for j in range(10)]
    hub = Hub(lines_per_log, 1 << 40)
    client = names[: logs // 10]
    sub = Subscription(client, LineFilter(), "sse", 1 << 40, True)
    hub.subscribe(client, sub)
    gc.collect()
    base_rss, base_objects = rss(), len(gc.get_objects())
    for r in range(lines_per_log):
        for name in names:
            text = b"seq=%d ts=1765100000000000000 src=%s GET /api/items/%d 200 12ms" % (r, name.encode(), r)
            got = keys.decode_raw(b"%d-0" % (1765100000000 + r), [b"fid", b"0123456789ab", b"end", b"%d" % (100 * r),
                                                                   b"lines", text, b"n", b"%d" % r], name)
            assert isinstance(got, list)
            hub.publish(name, got, Cursor(name, got[-1].fid, got[-1].end))
        sub.take()
    gc.collect()
    kept = lines_per_log * len(names)
    return {"logs": len(names), "lines_kept": kept, "bytes_per_line": round((rss() - base_rss) / kept),
            "tracked_objects_per_line": round((len(gc.get_objects()) - base_objects) / kept, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=100, help="lines kept per log")
    args = parser.parse_args()
    print(json.dumps({"command": "window_memory.py " + " ".join(sys.argv[1:]), **measure(args.lines)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
