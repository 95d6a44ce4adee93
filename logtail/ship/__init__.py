"""`logtail ship`: follow local logs and append their lines to Redis Streams for `serve --redis` nodes.

- shipper: the shipper itself; metrics: its Prometheus endpoint.
"""
