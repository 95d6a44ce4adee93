"""`logtail demo`: the real service on a temporary copy of `sample_logs/`, with a writer appending lines.

The writer produces what operators meet in practice: mixed levels, a JSON log, an nginx access log, the odd
ANSI-coloured and multi-byte line, and a rotation of app.log every few hundred lines so the dashboard shows
its notices. The repository's own `sample_logs/` are never written.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from logtail.config import LogSource, Settings
from logtail.paths import resource_dir
from logtail.server import serve

MESSAGES = [
    "user {n} logged in", "cache miss for key session:{n}", "request handled in {n} ms",
    "retrying upstream call ({r} of 3)", "disk usage at {k}0%", "payment declined for order #{n}",
    "connection reset by peer", "scheduled job {n} queued", "config reloaded",
]
LEVELS = ["INFO"] * 6 + ["DEBUG"] * 2 + ["WARN", "ERROR"]


def app_line(rng: random.Random) -> str:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    level = rng.choice(LEVELS)
    msg = rng.choice(MESSAGES).format(n=rng.randint(1, 9999), k=rng.randint(1, 9), r=rng.randint(1, 3))
    roll = rng.random()
    if roll < 0.03:
        msg = f"\x1b[1;31mALERT\x1b[0m {msg} \x1b[32m(recovered)\x1b[0m"
    elif roll < 0.06:
        msg = f"{msg} — naïve café ✓ 日本語 🚀"
    return f"{now} {level:5} [app] {msg}"


def json_line(rng: random.Random) -> str:
    return json.dumps({
        "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "level": rng.choice(["info", "info", "info", "debug", "warn", "error"]),
        "msg": rng.choice(["job started", "job finished", "queue depth high", "worker crashed"]),
        "job_id": rng.randint(1000, 9999),
        "duration_ms": rng.randint(1, 5000),
    })


def access_line(rng: random.Random) -> str:
    now = datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    status = rng.choice([200, 200, 200, 200, 304, 404, 500, 502])
    return (f'10.0.0.{rng.randint(1, 254)} - - [{now}] "GET /api/items/{rng.randint(1, 999)} HTTP/1.1" '
            f'{status} {rng.randint(100, 9000)} "-" "Mozilla/5.0"')


def write_forever(directory: Path, rate: float, stop: threading.Event) -> None:
    rng = random.Random()
    writers = {"app.log": app_line, "jobs.jsonl": json_line, "access.log": access_line}
    written = 0
    while not stop.wait(1.0 / max(rate, 0.1)):
        for name, make in writers.items():
            with (directory / name).open("a", encoding="utf-8") as f:
                f.write(make(rng) + "\n")
        written += 1
        if written % 500 == 0:  # rotate like logrotate: rename, then the app reopens a new file
            (directory / "app.log").replace(directory / "app.log.1")


def run_demo(host: str, port: int, rate: float) -> None:
    with tempfile.TemporaryDirectory(prefix="logtail-demo-") as tmp:
        directory = Path(tmp)
        for src in resource_dir("sample_logs").iterdir():
            if src.is_file():
                shutil.copy(src, directory / src.name)
        stop = threading.Event()
        writer = threading.Thread(target=write_forever, args=(directory, rate, stop), daemon=True)
        writer.start()
        # The demo's writer opens the file for each line, so nothing is written to a renamed app.log: its
        # new file need not wait the default rotate_wait.
        settings = replace(Settings(), host=host, port=port, rotate_wait=0.5, sources=(
            LogSource("app.log", directory / "app.log"),
            LogSource("jobs.jsonl", directory / "jobs.jsonl"),
            LogSource("access.log", directory / "access.log", parse="nginx"),  # fields, levels from the status
        ))
        print(f"logtail demo: open http://{host}:{port}/  (logs in {directory}; Ctrl-C to stop)", flush=True)
        try:
            serve(settings)
        finally:
            stop.set()
            writer.join(timeout=2)
