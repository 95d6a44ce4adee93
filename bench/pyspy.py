"""Optional profiling of the server under load with py-spy (`--profile DIR`), summarised into the report."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

RATE = 250  # samples per second


def find_py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


@contextlib.contextmanager
def recording(pid: int, out: Path | None, info: dict[str, Any]) -> Iterator[None]:
    """Record the process (and its children) while the block runs; `info` gets the summary."""
    exe = find_py_spy() if out is not None else None
    if out is None or exe is None:
        if out is not None:
            info["profile"] = {"error": "py-spy not found (pip install py-spy)"}
        yield
        return
    argv = [
        exe,
        "record",
        "--pid",
        str(pid),
        "--format",
        "raw",
        "--nolineno",
        "--nonblocking",
        "--subprocesses",
        "--rate",
        str(RATE),
        "--output",
        str(out),
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate(timeout=5)
        info["profile"] = summarize(out) if out.exists() else {"error": err.decode(errors="replace")[-500:]}


def _frame_name(frame: str) -> str:
    # "send (uvicorn/protocols/http/httptools_impl.py)" -> "send (httptools_impl.py)"
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rstrip(')').rsplit('/', 1)[-1]})" if where else name


def summarize(path: Path, top: int = 15) -> dict[str, Any]:
    """Shares of the sampled (non-idle) time: by innermost function (self) and by any frame on the stack."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    share = (lambda c: round(100 * c / total, 1)) if total else (lambda c: 0.0)
    return {
        "file": str(path),
        "samples": total,
        "rate_hz": RATE,
        "self_pct": {name: share(c) for name, c in own.most_common(top)},
        "inclusive_pct": {name: share(c) for name, c in inclusive.most_common(top * 2)},
    }
