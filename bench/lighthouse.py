"""Lighthouse's scores for the dashboard (performance, accessibility, best practices) in Debian's headless
Chromium, against a real `logtail serve` of the sample logs on a free loopback port.

    .venv/bin/python bench/lighthouse.py                   # Lighthouse's default: a phone, throttled
    .venv/bin/python bench/lighthouse.py --desktop --runs 3

Lighthouse 12 (npm, pinned in bench/lighthouse/package-lock.json) is installed into bench/lighthouse/ on the
first run; the test suite does not need it. Each run's report goes to bench/results/lighthouse-*.json; the
scores and every audit that cost points are printed. Performance depends on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from server_process import ServerProcess

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TOOL = HERE / "lighthouse"
LIGHTHOUSE = TOOL / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = Path("/usr/bin/chromium")
CATEGORIES = ("performance", "accessibility", "best-practices")
START_TIMEOUT_S = 20.0
RUN_TIMEOUT_S = 300


def install() -> None:
    """Lighthouse and its dependencies at the lock file's versions and integrity hashes. (The lock that a
    first `npm install lighthouse@12.8.2` writes lacks `third-party-web`, and `npm ci` refuses it; the one
    here was completed by a second `npm install`.)"""
    if LIGHTHOUSE.exists():
        return
    if shutil.which("npm") is None:
        sys.exit("bench/lighthouse.py: npm is missing: sudo apt-get install npm")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=TOOL, check=True)


def start_server(log_dir: Path) -> ServerProcess:
    samples = REPO / "sample_logs"
    server = ServerProcess("logtail", [str(samples / name) for name in ("app.log", "jobs.jsonl", "access.log")],
                           log_dir / "lighthouse-server.log", None)
    try:
        server.start(START_TIMEOUT_S)
    except RuntimeError as exc:
        server.stop()
        sys.exit(f"bench/lighthouse.py: logtail did not start: {exc}")
    return server


def run_once(url: str, report: Path, desktop: bool) -> dict[str, float]:
    args = [str(LIGHTHOUSE), url, "--quiet", "--output=json", f"--output-path={report}",
            f"--only-categories={','.join(CATEGORIES)}",
            "--chrome-flags=--headless=new --no-sandbox --disable-gpu --no-first-run"]
    if desktop:
        args.append("--preset=desktop")
    subprocess.run(args, check=True, timeout=RUN_TIMEOUT_S, env={**os.environ, "CHROME_PATH": str(CHROMIUM)})
    result = json.loads(report.read_text())
    for key in CATEGORIES:
        for ref in result["categories"][key]["auditRefs"]:
            audit = result["audits"][ref["id"]]
            if ref.get("weight", 0) > 0 and audit.get("score") is not None and audit["score"] < 1:
                print(f"  {key}: {ref['id']} {audit['score']:.2f} {audit.get('displayValue', '')}".rstrip())
    return {key: round(100 * result["categories"][key]["score"]) for key in CATEGORIES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="runs; the median of each score is printed last")
    parser.add_argument("--desktop", action="store_true", help="Lighthouse's desktop preset (default: a phone)")
    parser.add_argument("--fragment", default="log=app.log&log=jobs.jsonl",
                        help="the permalink opened (default: %(default)s)")
    opts = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit("bench/lighthouse.py: Debian's chromium is missing: sudo apt-get install chromium")
    install()
    results = REPO / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    server = start_server(results)
    scores: list[dict[str, float]] = []
    try:
        for i in range(opts.runs):
            report = results / f"lighthouse-{time.strftime('%Y%m%d-%H%M%S')}-{i}.json"
            scores.append(run_once(f"http://127.0.0.1:{server.port}/#{opts.fragment}", report, opts.desktop))
            print(f"run {i + 1}: {json.dumps(scores[-1])}  ({report.relative_to(REPO)})")
    finally:
        server.stop()
    median = {key: statistics.median(s[key] for s in scores) for key in CATEGORIES}
    print(f"median of {len(scores)} ({'desktop' if opts.desktop else 'mobile'}): {json.dumps(median)}")


if __name__ == "__main__":
    main()
