"""On a benchmarked server's PYTHONPATH (`bench/redis_fleet.py`): its garbage collector's passes, watched.

Python imports `sitecustomize` at start-up wherever it is on the path. With `LOGTAIL_BENCH_GC_FILE` set, this
times every pass of the collector (a `gc.callbacks` entry) and writes, once a second, each generation's pass
count and seconds, and every pass of at least `NOTED_MS` with its wall-clock time, as JSON to that file. It
only watches: the same for any commit's code, whatever that code does with the collector.
"""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from typing import Any

NOTED_MS = 5.0
_out = os.environ.get("LOGTAIL_BENCH_GC_FILE")


def _install(out: str) -> None:
    totals = {g: [0, 0.0] for g in range(3)}
    noted: list[tuple[float, int, float]] = []
    started = [0.0]

    def watch(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        ms = (time.perf_counter() - started[0]) * 1000
        total = totals[info["generation"]]
        total[0] += 1
        total[1] += ms / 1000
        if ms >= NOTED_MS:
            noted.append((time.time(), info["generation"], round(ms, 2)))

    def dump() -> None:
        while True:
            time.sleep(1)
            state = {"totals": {str(g): {"passes": n, "seconds": round(s, 4)} for g, (n, s) in totals.items()},
                     "noted": list(noted)}
            with open(out + ".tmp", "w") as f:
                json.dump(state, f)
            os.replace(out + ".tmp", out)

    gc.callbacks.insert(0, watch)
    threading.Thread(target=dump, daemon=True, name="bench-gc-stats").start()


if _out:
    _install(_out)
