"""The HTTP interface: routes, stream responses, their parameters, and the middleware around them.

- routes: the page, the log list, streams, health, metrics; history: download, search, rotated siblings.
- query: stream parameters parsed once; stream: one client's response; fastpath: streams past routing.
- keepalive: heartbeats and the send timeout; state: what a running app holds; metrics: Prometheus.
- middleware/: Basic auth, security headers, the root-path rule.
"""
