"""What a web node and a shipper say of their Redis connection on /metrics."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from logtail.sources.redis.client import Outage


class OutageCollector(Collector):
    """A web node's view of Redis, on its /metrics."""

    def __init__(self, outage: Outage) -> None:
        self.outage = outage

    def collect(self) -> Iterator[Metric]:
        yield from outage_metrics("logtail_redis", self.outage)


def outage_metrics(prefix: str, outage: Outage) -> Iterator[Metric]:
    yield CounterMetricFamily(f"{prefix}_errors", "Redis commands that failed", value=outage.errors)
    yield CounterMetricFamily(f"{prefix}_outages", "Times Redis became unreachable (each one ends in a "
                              "reconnect)", value=outage.outages)
    yield GaugeMetricFamily(f"{prefix}_up", "1 while Redis is reachable", value=0 if outage.down else 1)
