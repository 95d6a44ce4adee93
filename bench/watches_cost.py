"""The watches' cost on the publish path, in process: 20 watches over 10 logs, no client connected.

Publishes the same batches of realistic lines (as the follower does: clean blocks of bytes past a file's
head) to a hub with and without the watch engine, and prints the CPU time per 10,000 lines, i.e. the share
of a core the watches add at 10,000 lines/s. What waits is evaluated as a server does, every EVALUATE_DELAY
(at 10,000 lines/s: every 10,000 x EVALUATE_DELAY lines). Not the issue's full bench row (a real server fed by
a writer, with alert latency): a measurement of the part the watches add.

    .venv/bin/python bench/watches_cost.py
    .venv/bin/python bench/watches_cost.py --batch 10    # an idle server's blocks
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from logtail.config import resolve
from logtail.core.block import LineBlock
from logtail.core.cursor import Cursor
from logtail.core.hub import Hub
from logtail.sources.catalog import build_sources
from logtail.watches.engine import WatchEngine

try:
    from logtail.watches.arrivals import EVALUATE_DELAY
except ImportError:  # a version that evaluates each block as it is published
    EVALUATE_DELAY = 0.0

LOGS = [f"app{i}.log" for i in range(10)]
RATE = 10_000  # lines/s
TOTAL = 200_000
LEVELS = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"]


def make_blocks(batch: int) -> list[tuple[str, LineBlock, Cursor]]:
    rng = random.Random(1)
    blocks, offsets = [], dict.fromkeys(LOGS, 4096)
    for n in range(TOTAL // batch):
        log = LOGS[n % len(LOGS)]
        data = "".join(f"2026-12-07T05:00:00Z {rng.choice(LEVELS)} request id={rng.randrange(10**6)} "
                       f"status={rng.choice([200, 200, 200, 404, 500, 503])} path=/api/v1/items/{n} took=12ms\n"
                       for _ in range(batch)).encode()
        start = offsets[log]
        offsets[log] += len(data)
        blocks.append((log, LineBlock.of_bytes(log, "0123456789ab", start, data),
                       Cursor(log, "0123456789ab", offsets[log])))
    return blocks


def config(directory: Path) -> Path:
    for log in LOGS:
        (directory / log).touch()
    watches = []
    for i in range(20):
        kind = i % 4
        flt = ['q = "ERROR"', 'level = ["error"]', 'field = ["status>=500"]', 'regex = "took=[0-9]{4,}ms"'][kind]
        watches.append(f'[watches.w{i}]\nlogs = ["app{i % 10}.log", "app{(i + 3) % 10}.log"]\n{flt}\n'
                       f'threshold = 1000000\n')
    path = directory / "logtail.toml"
    path.write_text(f"sources = {LOGS!r}\n".replace("'", '"') + "".join(watches))
    return path


def run(with_watches: bool, directory: Path, batch: int) -> float:
    settings = resolve({}, None, config(directory), {})
    hub = Hub(settings.window_lines, settings.queue_bytes)
    engine = None
    if with_watches:
        engine = WatchEngine(settings, hub, build_sources(settings, hub))
        engine.seeds.clear()
    evaluate = getattr(engine, "evaluate_waiting", lambda: None)
    every = max(1, round(RATE * EVALUATE_DELAY / batch))  # publishes between two evaluations
    blocks = make_blocks(batch)
    started = time.process_time()
    for n, (log, block, position) in enumerate(blocks, 1):
        hub.publish(log, block, position)
        if n % every == 0:
            evaluate()
    evaluate()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=50, help="lines per published block (default 50)")
    batch = parser.parse_args().batch
    with tempfile.TemporaryDirectory() as tmp:
        base = min(run(False, Path(tmp), batch) for _ in range(3))
        watched = min(run(True, Path(tmp), batch) for _ in range(3))
    per_10k = (watched - base) / TOTAL * 10_000
    print(f"{TOTAL} lines over {len(LOGS)} logs in blocks of {batch}, 20 watches, evaluated every "
          f"{EVALUATE_DELAY * 1000:g} ms: without {base:.3f} CPU-s, with {watched:.3f} CPU-s")
    print(f"added: {per_10k * 1000:.1f} ms of CPU per 10,000 lines = {per_10k * 100:.1f} % of a core at 10,000 lines/s")


if __name__ == "__main__":
    main()
