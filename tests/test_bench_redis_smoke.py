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
    result = report["redis"]["shipped"]
    assert (result["lines_written"], result["lines_stored"], result["loss"], result["duplicates"]) == (4000, 4000, 0, 0)
    assert result["seconds"] > 0 and result["lines_per_s"] > 0
    assert 1 <= result["entries"] <= 4000  # an entry carries one line or a batch of them
    # Sane numbers, not timings: a stored line costs some Redis memory, but not a kilobyte (lines are ~100 B).
    assert 0 < result["redis_bytes_per_100k_lines"] < 1000 * 100_000, result["redis_bytes_per_100k_lines"]
    # CPU time comes in clock ticks (10 ms): a tiny run's shippers may not reach one; a millisecond a line is
    # far beyond any real cost (bench/RESULTS.md: seconds per million).
    assert 0 <= result["shipper_cpu_s_per_million"] < 1000, result["shipper_cpu_s_per_million"]
    assert [server["lines"] for server in result["servers"]] == [4000]  # one Redis: every line on it


@pytest.mark.timeout(180)
def test_redis_fleet_smoke_run_delivers_every_line_once(tmp_path: Path) -> None:
    """bench/redis_fleet.py: writer, node, clients, the bare-client baseline and the floor (fleet_floor.py) in
    their own processes."""
    redis_binary()
    out = tmp_path / "fleet.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "redis_fleet.py"), "--smoke", "--floor", "--json",
                           str(out)],
                          capture_output=True, text=True, timeout=170, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    clients, baseline = report["clients"], report["baseline"]
    # --smoke: 10 logs at 10 lines/s for 3 s; 2 clients of 5 logs each, the baseline on all 10.
    assert (clients["lines_expected"], clients["lines"], clients["missing"], clients["repeated"]) == (300, 300, 0, 0)
    assert (baseline["lines"], baseline["missing"], baseline["repeated"]) == (300, 0, 0)
    floor = report["floor"]
    assert (floor["lines"], floor["missing"], floor["repeated"]) == (300, 0, 0)
    assert floor["cpu_percent_of_a_core"] > 0 and floor["ship_to_client_ms"]["p99"] > 0
    p50, p99 = clients["ship_to_client_ms"]["p50"], clients["ship_to_client_ms"]["p99"]
    assert 0 < p50 <= p99, clients
    assert report["node_cpu_percent_of_a_core"] >= 0
