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
    latency = result["latency_ms"]
    assert all(isinstance(latency[key], float) for key in ("p50", "p99", "max")), latency
    assert 0 < latency["p50"] <= latency["p99"] <= latency["max"], latency
    # Sane numbers, not timings: a rate above zero, CPU that is counted, the RSS of a Python web server.
    assert result["delivered_per_s"] > 0
    assert isinstance(result["server_cpu_s_per_million"], float) and result["server_cpu_s_per_million"] >= 0
    assert 10 < result["server_rss_peak_mb"] < 4096, result["server_rss_peak_mb"]
    assert isinstance(result["server_kb_per_client"], float)  # a difference of two RSS readings: may be < 0
    assert "smoke" in proc.stdout  # the table


@pytest.mark.timeout(150)
def test_bench_text_stream_and_search_beside_grep(tmp_path: Path) -> None:
    """format=text readers count every line; the search row times logtail and grep on the same file."""
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench.py"), "--scenario", "smoke-text,smoke-search",
         "--baseline", "off", "--json", str(out)],
        capture_output=True, text=True, timeout=140, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text, search = json.loads(out.read_text())["scenarios"]
    assert (text["scenario"], text["status"], text["subject"]) == ("smoke-text", "ok", "logtail"), text
    assert text["delivered"] == text["expected"] == 2 * 200
    assert (text["loss"], text["duplicates"], text["unexpected"], text["notices"]) == (0, 0, 0, {})
    assert isinstance(text["latency_ms"]["p99"], float)
    assert (search["scenario"], search["status"]) == ("smoke-search", "ok"), search
    assert search["matches"] == 0 and search["scanned"] == search["file_bytes"] > 4_000_000
    assert len(search["grep_s"]) == len(search["search_s"]) == 3
    assert search["ratio_to_grep"] > 0


def test_websocket_frames_decode_across_reads() -> None:
    """The baseline's reader: short, 16-bit-length and split frames, a ping skipped, a close noticed."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from sse_client import decode_ws_frames
    finally:
        sys.path.remove(str(ROOT / "bench"))
    long_line = b"y" * 300
    stream = (b"\x81\x03abc" + b"\x89\x00" + b"\x81\x7e" + len(long_line).to_bytes(2, "big") + long_line
              + b"\x81\x02de" + b"\x88\x00")
    assert decode_ws_frames(stream) == ([b"abc", long_line, b"de"], b"", True)
    messages, rest, closed = decode_ws_frames(stream[:10])
    assert (messages, rest, closed) == ([b"abc"], stream[7:10], False)  # the ping is consumed
    assert decode_ws_frames(rest + stream[10:]) == ([long_line, b"de"], b"", True)
