"""ASGI middleware: Basic auth (auth), security headers (headers), paths with or without the root path (proxy)."""
