"""The audit trail: every stream, search and download opened, as one structured log line and a counter.

The line goes to the `logtail.audit` logger at INFO as `audit {json}`: the event, the user (null without
auth), the logs, the filter parameters as given and the client address, e.g.

    audit {"event":"stream","user":"alice","logs":["app.log"],"filter":{"q":["error"]},"client":"10.0.0.7"}

and `logtail_opened_total{user,event}` counts the same in Prometheus. Only requests that were allowed are
audited here; refusals are logged by the middlewares (401) or are indistinguishable 404s.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Literal
from urllib.parse import parse_qsl

from prometheus_client import CollectorRegistry, Counter
from starlette.types import Scope

from logtail.web.access import identity

log = logging.getLogger("logtail.audit")

Event = Literal["stream", "search", "download"]
FILTER_KEYS = ("q", "regex", "ignore_case", "invert", "level", "field", "since")
MAX_VALUE_CHARS = 200  # a filter value is cut in the audit line: the line stays one readable line


class Audit:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.opened = Counter("logtail_opened", "Streams, searches and downloads opened, by user",
                              ["user", "event"], registry=registry)

    def record(self, scope: Scope, event: Event, logs: Sequence[str]) -> None:
        who = identity(scope)
        client = scope.get("client")
        entry = {"event": event, "user": who.name if who else None, "logs": list(logs),
                 "filter": filter_of(scope.get("query_string", b"")), "client": client[0] if client else None}
        log.info("audit %s", json.dumps(entry, separators=(",", ":"), ensure_ascii=False))
        self.opened.labels(who.name if who else "", event).inc()


def filter_of(query_string: bytes) -> dict[str, list[str]]:
    """The filter parameters of a query string, as given (cut to MAX_VALUE_CHARS each)."""
    found: dict[str, list[str]] = {}
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if key in FILTER_KEYS:
            found.setdefault(key, []).append(value[:MAX_VALUE_CHARS])
    return found
