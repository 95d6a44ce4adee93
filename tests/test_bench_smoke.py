"""The benchmark harness (bench/bench.py) still runs end to end: a tiny run, no timing assertions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_bench_smoke_run_reports_every_line_once(tmp_path: Path) -> None:
    """2 clients, 200 lines at 100 lines/s: the JSON report has its fields and counts no loss."""
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench.py"), "--scenario", "smoke", "--json", str(out)],
        capture_output=True, text=True, timeout=110, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert {"command", "machine", "scenarios"} <= report.keys()
    (result,) = report["scenarios"]
    assert result["status"] == "ok", result
    assert result["lines_written"] == 200
    assert result["expected"] == 2 * 200
    assert result["delivered"] == result["expected"]
    assert (result["loss"], result["duplicates"], result["unexpected"]) == (0, 0, 0)
    assert result["incomplete_streams"] == 0
    for key in ("p50", "p99", "max"):
        assert isinstance(result["latency_ms"][key], float)
    for key in ("delivered_per_s", "server_cpu_s_per_million", "server_rss_peak_mb", "server_kb_per_client"):
        assert key in result
    assert "smoke" in proc.stdout  # the table
