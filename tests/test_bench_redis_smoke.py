"""The many-hosts benchmark (bench/redis_bench.py) still runs end to end: a tiny run, no timing assertions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.redis_support import redis_binary

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(180)
def test_redis_bench_smoke_run_reports_no_loss(tmp_path: Path) -> None:
    redis_binary()  # fails in CI, skips elsewhere, when redis-server is missing
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "redis_bench.py"), "--smoke", "--json", str(out)],
                          capture_output=True, text=True, timeout=170, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    result = report["throughput"]
    assert (result["lines_written"], result["lines_stored"], result["loss"], result["duplicates"]) == (4000, 4000, 0, 0)
    for key in ("lines_per_s", "redis_bytes_per_100k_lines"):
        assert result[key] > 0
    # CPU time comes in clock ticks (10 ms): a tiny run's shippers may not reach one.
    assert result["shipper_cpu_s_per_million"] >= 0
    for log in ("shipped_ms", "local_ms"):
        assert isinstance(report["latency"][log]["p50"], float)
