"""Many hosts: `logtail ship` appends lines to Redis Streams; `logtail serve --redis` streams them.

- keys.py: the key layout and what one stream entry holds (pure; the only place that knows either).
- client.py: the Redis connection and the outage rule (warn once, back off, reconnect).
- ship.py: the shipper: files -> one stream per host and log, plus the registry of known logs.
- discovery.py: a web node's table of shipped logs, refreshed from that registry.
- reader.py: a web node's one XREAD loop feeding the hub, one channel per shipped log.
- resume.py: a reconnecting client's read-back from a stream (XRANGE) beyond the hub's window.
"""
