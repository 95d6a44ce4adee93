"""What a web node and a shipper say of their Redis connection on /metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from logtail.sources.redis.client import Outage


class OutageCollector(Collector):
    """A web node's view of Redis, on its /metrics."""

    def __init__(self, outage: Outage, malformed: Callable[[], int] = lambda: 0) -> None:
        self.outage = outage
        self.malformed = malformed  # malformed entries skipped so far (reader.py)

    def collect(self) -> Iterator[Metric]:
        yield from outage_metrics("logtail_redis", self.outage)
        yield CounterMetricFamily("logtail_redis_malformed_entries", "Stream entries skipped as malformed (each "
                                  "one a gap notice on its log)", value=self.malformed())


def outage_metrics(prefix: str, outage: Outage) -> Iterator[Metric]:
    yield CounterMetricFamily(f"{prefix}_errors", "Redis commands that failed", value=outage.errors)
    yield CounterMetricFamily(f"{prefix}_outages", "Times Redis became unreachable (each one ends in a "
                              "reconnect)", value=outage.outages)
    yield GaugeMetricFamily(f"{prefix}_up", "1 while Redis is reachable", value=0 if outage.down else 1)
