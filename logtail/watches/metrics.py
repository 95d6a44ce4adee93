"""Prometheus metrics of the watches, read from the engine when scraped (the hot path bumps plain counters).

`logtail_lines_total{log,level}` counts every line by level (`level=""` for a line without one): with
`logtail_watch_matches_total{watch}` an Alertmanager user can alert without any destination (README).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from logtail.watches.engine import WatchEngine


class WatchCollector(Collector):
    def __init__(self, engine: WatchEngine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        lines = CounterMetricFamily("logtail_lines", "Lines published, by log and level", labels=["log", "level"])
        for log, by_level in list(self.engine.lines_by_level.items()):
            for level, count in list(by_level.items()):
                lines.add_metric([log, level or ""], count)
        yield lines
        matches = CounterMetricFamily("logtail_watch_matches", "Lines a watch matched since start", labels=["watch"])
        for name, counter in self.engine.counters.items():
            matches.add_metric([name], counter.total)
        yield matches
        alerts = CounterMetricFamily("logtail_watch_alerts", "Alerts by watch, destination and outcome "
                                     "(sent, failed: refused with a 4xx, summarised: folded into a later one)",
                                     labels=["watch", "destination", "outcome"])
        for (watch, dest, outcome), count in list(self.engine.outcomes.items()):
            alerts.add_metric([watch, dest, outcome], count)
        yield alerts
