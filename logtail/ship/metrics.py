"""The shipper's Prometheus metrics (`--metrics-port`), read from its plain counters when scraped.

The shipper has no web server of its own: prometheus-client serves these from a daemon thread. Counters are
plain integers bumped on the event loop; reading an int from another thread is safe, and the lag's `stat`
runs in that thread, off the loop.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from logtail.config import Settings
from logtail.sources.redis.client import Outage

if TYPE_CHECKING:
    from logtail.ship.shipper import Shipper


class ShipperCollector(Collector):
    def __init__(self, shipper: Shipper) -> None:
        self.shipper = shipper

    def collect(self) -> Iterator[Metric]:
        lines = CounterMetricFamily("logtail_ship_lines", "Lines stored in Redis", labels=["log"])
        sent = CounterMetricFamily("logtail_ship_bytes", "Bytes of line text stored in Redis", labels=["log"])
        lag = GaugeMetricFamily("logtail_ship_lag_bytes", "Bytes of the file not yet stored in Redis",
                                labels=["log"])
        for ship_log in list(self.shipper.sink.logs.values()):
            lines.add_metric([ship_log.name], ship_log.lines)
            sent.add_metric([ship_log.name], ship_log.bytes)
            lag.add_metric([ship_log.name], _lag(ship_log.path, ship_log.stored[1]))
        yield from (lines, sent, lag)
        yield from outage_metrics("logtail_ship_redis", self.shipper.outage)


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


def _lag(path: os.PathLike[str], stored: int) -> int:
    try:
        return max(0, os.stat(path).st_size - stored)
    except OSError:
        return 0


def serve_metrics(shipper: Shipper, settings: Settings) -> Callable[[], None]:
    """Serve /metrics on `metrics_port`; returns the function that stops it."""
    assert settings.metrics_port is not None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ShipperCollector(shipper))
    server, _thread = start_http_server(settings.metrics_port, settings.host, registry)
    return server.shutdown
