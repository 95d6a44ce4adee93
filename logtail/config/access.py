"""Who sees what, as configured: the `[users]` and `[access]` tables of the config file, and the checks on the
settings that choose how users sign in (web/users.py and web/access.py use them)."""

from __future__ import annotations

import re
from typing import Any

from logtail.config.settings import ConfigError, Settings

HEADER_RE = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}")
# A path on the page's own site, or an http(s) address: no scheme that runs script (javascript:) on a click.
SIGN_OUT_RE = re.compile(r"(/|https?://)[\x21-\x7e]{0,500}")


def validate_access(s: Settings) -> None:
    for name in ("auth_proxy_header", "auth_proxy_groups_header"):
        value = getattr(s, name)
        if value is not None and not HEADER_RE.fullmatch(value):
            raise ConfigError(f"{name} {value[:50]!r} is not an HTTP header name")
    for name in ("auth_proxy_groups_header", "auth_proxy_sign_out"):
        if getattr(s, name) and not s.auth_proxy_header:
            raise ConfigError(f"{name} needs auth_proxy_header")
    if s.auth_proxy_sign_out is not None and not SIGN_OUT_RE.fullmatch(s.auth_proxy_sign_out):
        raise ConfigError(f"auth_proxy_sign_out {s.auth_proxy_sign_out[:50]!r} is not a path (/...) or an "
                          "http(s):// address")
    if s.auth_proxy_header and (s.auth or s.users or s.users_table):
        raise ConfigError("auth_proxy_header replaces Basic auth: remove auth, users and [users]")
    if s.auth_proxy_header and s.forwarded_allow_ips.strip() == "*":
        raise ConfigError("auth_proxy_header needs forwarded_allow_ips to name the proxy, not '*': "
                          "anyone could send the header")
    if s.access and not s.authenticates:
        raise ConfigError("[access] rules need users: set auth, users, [users] or auth_proxy_header")
    if s.metrics_users and not s.authenticates:
        raise ConfigError("metrics_users needs users: set auth, users, [users] or auth_proxy_header")


def access_table(data: dict[str, Any], origin: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The `[access]` table: log-name glob -> list of users and `group:NAME`s."""
    table = data.get("access", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{origin}: [access] must be a table of \"GLOB\" = [\"user\", \"group:NAME\"]")
    rules = []
    for pattern, who in table.items():
        if not isinstance(who, list) or not all(isinstance(w, str) and w.strip() for w in who):
            raise ConfigError(f"{origin}: [access] {pattern!r} must be a list of user names and \"group:NAME\"")
        if any(w.startswith("group:") and len(w) == len("group:") for w in who):
            raise ConfigError(f"{origin}: [access] {pattern!r}: \"group:\" needs a group name")
        rules.append((pattern, tuple(w.strip() for w in who)))
    return tuple(rules)


def users_table(data: dict[str, Any], origin: str) -> tuple[tuple[str, Any], ...]:
    """The `[users]` table, checked by web/users.py; `users = "PATH"` is the users file instead."""
    table = data.get("users")
    if not isinstance(table, dict):
        return ()
    return tuple(table.items())
