"""The dashboard under a fast log: does the page keep rendering, and does its JS heap stay bounded?

    .venv/bin/python bench/dashboard.py                       # 2,000 lines/s for 10 minutes
    .venv/bin/python bench/dashboard.py --duration 30 --interval 5

Starts `logtail serve` on a temp log, opens the dashboard (`/#log=bench.log`) in Debian's headless Chromium
through Playwright, appends lines at `--rate`, and every `--interval` seconds samples: the JS heap (CDP
`Performance.getMetrics`), DOM nodes, frames rendered (requestAnimationFrame count), long tasks
(PerformanceObserver 'longtask'), lines on the page and how far the page's newest line is behind the writer.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from server_process import ServerProcess
from workload import LineWriter

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROBE_JS = """
window.__bench = {frames: 0, longTasks: 0, longTaskMs: 0, maxLongTaskMs: 0};
try {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      __bench.longTasks += 1;
      __bench.longTaskMs += e.duration;
      __bench.maxLongTaskMs = Math.max(__bench.maxLongTaskMs, e.duration);
    }
  }).observe({type: "longtask", buffered: true});
} catch (e) {}
(function tick() { __bench.frames += 1; requestAnimationFrame(tick); })();
"""
PAGE_JS = """() => {
  const lines = document.querySelectorAll('#panes .line');
  const last = lines.length ? lines[lines.length - 1].querySelector('.text') : null;
  return {...window.__bench, lines: lines.length, lastText: last ? last.textContent : ""};
}"""


class BackgroundWriter:
    """Appends lines at `rate` in a thread until stopped."""

    def __init__(self, path: Path, rate: float) -> None:
        self.writer = LineWriter(str(path), 120)
        self.rate = rate
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            self.writer.at_rate(self.rate, max(1, int(self.rate / 4)))  # quarter-second slices

    def __enter__(self) -> BackgroundWriter:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)


def sample(page: Any, cdp: Any, writer: BackgroundWriter, t0: float) -> dict[str, Any]:
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    probe = page.evaluate(PAGE_JS)
    text = probe.pop("lastText")
    seq = int(text[4:13]) if text.startswith("seq=") else None
    return {
        "t_s": round(time.monotonic() - t0, 1),
        "heap_mb": round(metrics.get("JSHeapUsedSize", 0) / 2**20, 2),
        "nodes": int(metrics.get("Nodes", 0)),
        "task_s": round(metrics.get("TaskDuration", 0), 3),
        "script_s": round(metrics.get("ScriptDuration", 0), 3),
        "layout_s": round(metrics.get("LayoutDuration", 0), 3),
        "written": writer.writer.next_seq,
        "lag_lines": writer.writer.next_seq - 1 - seq if seq is not None else None,
        **probe,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="logtail-dash-") as tmp_name:
        tmp = Path(tmp_name)
        log = tmp / "bench.log"
        log.touch()
        server = ServerProcess(args.server_module, [str(log), "--log-level", "warning"], tmp / "server.log", None)
        try:
            server.start()
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                try:
                    page = browser.new_page(viewport={"width": 1400, "height": 900})
                    page.add_init_script(PROBE_JS)
                    page.goto(f"http://127.0.0.1:{server.port}/#log=bench.log")
                    cdp = page.context.new_cdp_session(page)
                    cdp.send("Performance.enable")
                    samples = []
                    with BackgroundWriter(log, args.rate) as writer:
                        t0 = time.monotonic()
                        page.wait_for_selector("#panes .line", timeout=15_000)
                        while time.monotonic() - t0 < args.duration:
                            time.sleep(min(args.interval, max(0.0, t0 + args.duration - time.monotonic())))
                            samples.append(sample(page, cdp, writer, t0))
                            print(json.dumps(samples[-1]), file=sys.stderr, flush=True)
                    cdp.send("HeapProfiler.collectGarbage")
                    final_gc_mb = round(
                        next(
                            m["value"]
                            for m in cdp.send("Performance.getMetrics")["metrics"]
                            if m["name"] == "JSHeapUsedSize"
                        )
                        / 2**20,
                        2,
                    )
                finally:
                    browser.close()
        finally:
            server.stop()
    return summarize(args, samples, final_gc_mb)


def summarize(args: argparse.Namespace, samples: list[dict[str, Any]], final_gc_mb: float) -> dict[str, Any]:
    fps = []
    for a, b in itertools.pairwise(samples):
        fps.append((b["frames"] - a["frames"]) / max(0.001, b["t_s"] - a["t_s"]))
    later = samples[len(samples) // 2 :] or samples
    heap_max = max(s["heap_mb"] for s in samples) if samples else None
    return {
        "rate": args.rate,
        "duration_s": args.duration,
        "heap_mb_first": samples[0]["heap_mb"] if samples else None,
        "heap_mb_max": heap_max,
        "heap_mb_last": samples[-1]["heap_mb"] if samples else None,
        "heap_mb_after_gc": final_gc_mb,
        "heap_bound_mb": args.heap_bound_mb,
        "heap_within_bound": heap_max is not None and heap_max <= args.heap_bound_mb,
        "heap_growth_second_half_mb": round(later[-1]["heap_mb"] - later[0]["heap_mb"], 2) if later else None,
        "fps_min": round(min(fps), 1) if fps else None,
        "fps_median": round(statistics.median(fps), 1) if fps else None,
        "long_tasks": samples[-1]["longTasks"] if samples else None,
        "long_task_ms_total": round(samples[-1]["longTaskMs"]) if samples else None,
        "long_task_ms_max": round(samples[-1]["maxLongTaskMs"]) if samples else None,
        "lines_on_page_max": max(s["lines"] for s in samples) if samples else None,
        "nodes_max": max(s["nodes"] for s in samples) if samples else None,
        "lag_lines_max": max((s["lag_lines"] or 0) for s in samples) if samples else None,
        "samples": samples,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=2000, help="lines/s appended (default 2000)")
    parser.add_argument("--duration", type=float, default=600, help="seconds (default 600)")
    parser.add_argument("--interval", type=float, default=10, help="seconds between samples (default 10)")
    parser.add_argument("--heap-bound-mb", type=float, default=100, help="the fixed heap bound checked")
    parser.add_argument("--server-module", default="logtail")
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "dashboard.json"))
    args = parser.parse_args(argv)
    result = run(args)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    summary = {k: v for k, v in result.items() if k != "samples"}
    for key, value in summary.items():
        print(f"{key:28s} {value}")
    print(f"JSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
