"""Logs of other hosts, through Redis Streams: what `logtail serve --redis` reads (`logtail ship` writes them).

- keys: the key layout and what one stream entry holds (pure; the only place that knows either).
- client: the Redis connection and the outage rule (warn once, back off, reconnect).
- discovery: a web node's table of shipped logs, refreshed from the registry of known logs the shippers keep.
- reader: a web node's one XREAD loop feeding the hub, one channel per shipped log.
- readback: a reconnecting client's read-back from a stream (XRANGE) beyond the hub's window.
- history: search and download over what a stream retains.
- node: what `serve --redis` adds to a web node.
"""
