"""The targets the bench checks: a verdict per scenario, and the issue's table with logtail beside its baseline.

A scenario's verdict may depend on the `tail -F` baseline measured in the same run (e.g. "<= 0.5x the
baseline's CPU per line"); without a baseline only the absolute part of such a target is checked, and the
table says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Result = dict[str, Any]
CPU_M = "server_cpu_s_per_million"
FULL_RATE = 990_000  # 10^6 deliveries/s offered: "keeps up" allows for the drain at the end of the window


def _lat(r: Result, key: str) -> float:
    return float(r["latency_ms"][key])


def _cpu_at_most(r: Result, b: Result | None, absolute: float, ratio: float) -> bool:
    return r[CPU_M] <= absolute and (b is None or b.get(CPU_M) is None or r[CPU_M] <= ratio * b[CPU_M])


CHECKS: dict[str, Callable[[Result, Result | None], bool]] = {
    "steady-1": lambda r, b: _cpu_at_most(r, b, 50, 0.5) and _lat(r, "p50") <= 5 and _lat(r, "p99") <= 20,
    "steady-10": lambda r, b: r["server_cpu_pct"] <= 1.0,
    "fanout-1000-100": lambda r, b: _cpu_at_most(r, b, 3, 1 / 3) and _lat(r, "p99") <= 100 and r["loss"] == 0,
    "fanout-1000": lambda r, b: r["loss"] == 0 and _lat(r, "p99") <= 50 and r["delivered_per_s"] >= FULL_RATE,
    "throughput-1": lambda r, b: r["loss"] == 0 and r["delivered_per_s"] >= 400_000,
    "throughput-1-text": lambda r, b: r["loss"] == 0 and r["delivered_per_s"] >= 1_000_000,
    "idle-cpu-1000": lambda r, b: r["idle_cpu_pct"] <= 1.0 and r["server_kb_per_client"] <= 20,
    "search-1g": lambda r, b: r["ratio_to_grep"] <= 2.0,
    "latency-100": lambda r, b: r["loss"] == 0 and _lat(r, "p50") <= 2 and _lat(r, "p99") <= 10,
    "regex-1000": lambda r, b: r["loss"] == 0 and _lat(r, "p99") <= 100,
    "fields-1000": lambda r, b: r["loss"] == 0 and _lat(r, "p99") <= 100,
    "idle-10000": lambda r, b: r["server_kb_per_client"] <= 25,
    "workers-2": lambda r, b: (r["scaling"] or 0) >= 1.8,
}


def verdict(name: str, r: Result, baseline: Result | None) -> str | None:
    """'met' / 'NOT met' for a scenario run at its default sizes, None when it has no target."""
    check = CHECKS.get(name)
    if check is None or r.get("status") != "ok":
        return None
    base = baseline if baseline is not None and baseline.get("status") == "ok" else None
    try:
        return "met" if check(r, base) else "NOT met"
    except (KeyError, TypeError):
        return "NOT met"


# -- the issue's table -----------------------------------------------------------------------------------------


def _n(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _cpu_latency(r: Result) -> str:
    return (
        f"{_n(r.get(CPU_M))} CPU-s/M ({_n(r.get('server_cpu_pct'))} % of a core), "
        f"p50 {_n(r['latency_ms']['p50'], 2)} ms, p99 {_n(r['latency_ms']['p99'], 2)} ms"
    )


def _core(r: Result) -> str:
    return f"{_n(r.get('server_cpu_pct', r.get('idle_cpu_pct')), 2)} % of a core"


def _fanout_cpu(r: Result) -> str:
    return f"{_n(r.get(CPU_M), 2)} CPU-s/M, p99 {_n(r['latency_ms']['p99'], 1)} ms, loss {_n(r['loss'])}"


def _fanout_rate(r: Result) -> str:
    return f"{_n(r['delivered_per_s'])}/s, p99 {_n(r['latency_ms']['p99'], 1)} ms, loss {_n(r['loss'])}"


def _rate(r: Result) -> str:
    return f"{_n(r['delivered_per_s'])} lines/s, loss {_n(r['loss'])}"


def _memory(r: Result) -> str:
    return f"{_n(r['server_kb_per_client'])} KB RSS ({_n(r.get('server_pss_kb_per_client'))} KB PSS)"


def _search(r: Result) -> str:
    return f"{r['search_best_s']:.2f} s ({r['search_gb_per_s']} GB/s), {r['ratio_to_grep']}x grep"


def _grep(r: Result) -> str:
    return f"grep {r['grep_best_s']:.2f} s ({r['grep_gb_per_s']} GB/s)"


@dataclass(frozen=True)
class Row:
    label: str
    scenario: str
    show: Callable[[Result], str]
    target: str
    baseline_of: str | None = None  # the scenario whose baseline run stands beside this row (default: own)
    show_baseline: Callable[[Result], str] | None = None  # how to show the baseline (default: like logtail)
    baseline_in_own: bool = False  # the baseline was measured inside logtail's own run (grep)


ROWS = [
    Row(
        "1 client, 1,000 lines/s",
        "steady-1",
        _cpu_latency,
        "<= 50 CPU-s/M, <= 0.5x baseline; p50 <= 5 ms, p99 <= 20 ms",
    ),
    Row("10 clients, 100 lines/s", "steady-10", _core, "<= 1 % of a core"),
    Row("1,000 idle clients, 5 s heartbeat", "idle-cpu-1000", _core, "<= 1 % of a core"),
    Row(
        "1,000 clients, 100 lines/s",
        "fanout-1000-100",
        _fanout_cpu,
        "<= 3 CPU-s/M deliveries, <= 1/3 baseline; p99 <= 100 ms; no loss",
    ),
    Row("1,000 clients, 1,000 lines/s", "fanout-1000", _fanout_rate, "10^6 deliveries/s, p99 <= 50 ms, no loss"),
    Row("1 client, as fast as the file grows (SSE)", "throughput-1", _rate, ">= 400,000 lines/s, no loss"),
    Row(
        "1 client, as fast as the file grows (format=text)",
        "throughput-1-text",
        _rate,
        ">= 1,000,000 lines/s, no loss",
        baseline_of="throughput-1",
    ),
    Row("search a 1 GB file, no match", "search-1g", _search, "<= 2x grep", show_baseline=_grep, baseline_in_own=True),
    Row("idle memory per client (1,000 clients)", "idle-cpu-1000", _memory, "<= 20 KB"),
]


def find(results: list[Result], scenario: str, baseline: bool) -> Result | None:
    return next((r for r in results if r["scenario"] == scenario and r.get("baseline", False) == baseline), None)


def _cell(show: Callable[[Result], str], r: Result | None) -> str:
    if r is None:
        return "(not run)"
    if r.get("status") != "ok":
        return f"({r.get('status')}: {str(r.get('error', ''))[:60]})"
    try:
        return show(r)
    except (KeyError, TypeError):
        return "(no data)"


def issue_rows(results: list[Result]) -> list[list[str]]:
    """[workload, logtail, baseline, target, verdict] for each row of the issue's table that was run."""
    rows = []
    for row in ROWS:
        mine = find(results, row.scenario, False)
        if mine is None:
            continue
        base = mine if row.baseline_in_own else find(results, row.baseline_of or row.scenario, True)
        base_text = _cell(row.show_baseline or row.show, base)
        rows.append([row.label, _cell(row.show, mine), base_text, row.target, mine.get("verdict") or "-"])
    return rows


def issue_table(results: list[Result]) -> str:
    rows = issue_rows(results)
    if not rows:
        return ""
    head = ["workload", "logtail", "tail -F under websocketd / grep", "target", "verdict"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [head, *rows])
