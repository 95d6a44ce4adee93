"""Watches: saved filters evaluated on every line, counted, graphed, and alerted on through destinations.

spec.py parses `[watches.NAME]` and `[destinations.NAME]`; counter.py is the pure counting (window,
cooldown, per-minute buckets); engine.py hooks the hub and keeps positions; statefile.py persists them;
delivery.py and payloads.py send alerts; routes.py and metrics.py expose them.
"""
