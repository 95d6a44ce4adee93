"""Prometheus metrics, read from the hub when scraped.

The hot path only bumps plain integers on each log's `LogStats`; this collector turns them into metrics at
scrape time, so a million deliveries a second cost no metric-library calls. The registry belongs to the
app (no process-global default registry), so several apps in one process (tests) do not collide.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, GCCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from logtail.core.hub import Hub


class HubCollector(Collector):
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("logtail_clients", "Open stream clients", value=self.hub.client_count)
        yield GaugeMetricFamily("logtail_clients_catching_up", "Stream clients being served lines they are "
                                "behind on (overflow=catchup)", value=self.hub.catching_up_count)
        yield GaugeMetricFamily("logtail_logs", "Logs being followed", value=len(self.hub.channels))
        families = {
            "lines_read": CounterMetricFamily("logtail_lines_read", "Lines read from the log", labels=["log"]),
            "lines_sent": CounterMetricFamily("logtail_lines_sent", "Line deliveries queued to clients",
                                              labels=["log"]),
            "lines_dropped": CounterMetricFamily("logtail_lines_dropped",
                                                 "Line deliveries dropped for slow overflow=skip clients",
                                                 labels=["log"]),
        }
        for name, ch in list(self.hub.channels.items()):
            for attr, family in families.items():
                family.add_metric([name], getattr(ch.stats, attr))
        yield from families.values()


class FrozenCollector(Collector):
    """How many objects the garbage collector's passes skip (logtail/core/collector.py)."""

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("logtail_gc_frozen_objects", "Objects the garbage collector's passes skip: what "
                                "survived its last full pass", value=gc.get_freeze_count())


def build_registry(hub: Hub) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HubCollector(hub))
    registry.register(FrozenCollector())
    GCCollector(registry=registry)  # python_gc_collections_total{generation} and the objects collected
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
