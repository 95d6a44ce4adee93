"""One SSL context for the test process's httpx clients, made once instead of once per client.

httpx builds an SSL context for every client it creates, loading certifi's CA bundle: about 40 ms of CPU,
also for a plain-HTTP request. The suite's helpers poll loopback servers with a client per request
(`/healthz` while a server starts, `/metrics`, `/api/logs`, every 20-100 ms), so on a 2-core machine the
polling took a good part of the CPU the servers it waited for needed. A client asking for the default
verification (`verify=True`, no `cert`) gets a context made once for the same environment; a test that
passes its own context (a test certificate's) gets that one, as before.
"""

from __future__ import annotations

import os
import ssl
from typing import Any

import httpx._transports.default as transports
import pytest

_made = transports.create_ssl_context
_contexts: dict[tuple[bool, str | None, str | None], ssl.SSLContext] = {}


def _context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> ssl.SSLContext:
    if verify is not True or cert is not None:
        return _made(verify=verify, cert=cert, trust_env=trust_env)
    # The environment variables httpx reads for the default verification: a change of them is honoured.
    key = (trust_env, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    found = _contexts.get(key)
    if found is None:
        found = _contexts[key] = _made(verify=verify, cert=cert, trust_env=trust_env)
    return found


def pytest_configure(config: pytest.Config) -> None:
    transports.create_ssl_context = _context  # what httpx's transports call (httpx 0.28)
