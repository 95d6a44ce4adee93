"""`logtail demo`: a live system on a temporary copy of sample_logs/, which itself is never modified."""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support import free_port, stop_group, wait_for

SAMPLES = Path(__file__).resolve().parent.parent / "sample_logs"


def digest() -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(SAMPLES.iterdir())}


async def test_demo_serves_live_lines_and_leaves_samples_alone(tmp_path: Path) -> None:
    before = digest()
    port = free_port()
    out = tmp_path / "demo.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "logtail", "demo", "--port", str(port), "--rate", "20"],
                                cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            try:
                return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 20, what="demo server")
        names = {x["name"] for x in httpx.get(f"{base}/api/logs").json()}
        assert {"app.log", "jobs.jsonl", "access.log"} <= names
        async with httpx.AsyncClient(base_url=base, timeout=10) as client, \
                client.stream("GET", "/api/stream?log=app.log&log=jobs.jsonl&backlog=0&format=ndjson") as resp:
            seen: set[str] = set()
            async with asyncio.timeout(10):
                async for line in resp.aiter_lines():
                    seen.add(json.loads(line)["log"])
                    if seen == {"app.log", "jobs.jsonl"}:
                        break
    finally:
        stop_group(proc, "logtail demo", lambda: out.read_text(errors="replace"))
    assert proc.returncode != -signal.SIGKILL, "the demo did not stop on SIGTERM"
    assert digest() == before
