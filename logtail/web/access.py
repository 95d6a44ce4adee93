"""Who may read which log: the signed-in user of a request, and the `[access]` rules.

The authentication middlewares (middleware/auth.py for Basic users, middleware/proxyauth.py for a user named
by a proxy) put an `Identity` in the request's scope; every place that resolves a log name from a request
asks `readable` (or `require_readable`, `first_unreadable`) before it does anything else. A log the user may
not read is answered exactly as an unknown log (`unknown_log`), so the answer does not say it exists.

Rules map log-name globs (`*` any characters, `?` one) to users and `group:NAME`s. Grants add up over every
rule that matches a name; once any rule exists, a name no rule grants to the user is denied. With no rules,
every signed-in user (or everyone, without auth) reads every log. Access is decided when a request opens,
never per line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fastapi import HTTPException
from starlette.requests import HTTPConnection
from starlette.types import Scope

from logtail.web.users import UserTable

USER = "logtail.user"  # scope key: the request's Identity, set by the authentication middleware
GROUP_PREFIX = "group:"


@dataclass(frozen=True)
class Identity:
    name: str
    groups: frozenset[str] = frozenset()
    via_proxy: bool = False  # named by a proxy's header (the page then shows no Basic-auth hint)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A log-name glob as a regex: `*` is any run of characters (`@` and `.` included), `?` one; nothing else
    is special (unlike fnmatch, `[` is a plain character)."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


@dataclass(frozen=True)
class Rule:
    pattern: str
    regex: re.Pattern[str]
    users: frozenset[str]
    groups: frozenset[str]

    def grants(self, who: Identity) -> bool:
        return who.name in self.users or not who.groups.isdisjoint(self.groups)


class AccessRules:
    """The `[access]` table, compiled; pure, so the same rules give the same answers everywhere."""

    def __init__(self, table: Iterable[tuple[str, Sequence[str]]] = ()) -> None:
        self.rules = tuple(self._rule(pattern, who) for pattern, who in table)

    @staticmethod
    def _rule(pattern: str, who: Sequence[str]) -> Rule:
        groups = frozenset(w[len(GROUP_PREFIX):] for w in who if w.startswith(GROUP_PREFIX))
        users = frozenset(w for w in who if not w.startswith(GROUP_PREFIX))
        return Rule(pattern, glob_regex(pattern), users, groups)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def allows(self, who: Identity | None, name: str) -> bool:
        if not self.rules:
            return True
        if who is None:
            return False
        return any(rule.grants(who) and rule.regex.fullmatch(name) for rule in self.rules)


class AccessControl:
    """The users and rules of a running server, replaced together on reload (SIGHUP)."""

    def __init__(self, users: UserTable, rules: AccessRules, *, basic: bool, authenticates: bool,
                 metrics_users: Iterable[str] = ()) -> None:
        self.users = users
        self.rules = rules
        self.basic = basic  # Basic-auth users (`users` is theirs); otherwise the proxy names users, or nobody does
        self.authenticates = authenticates
        self.metrics_users = frozenset(metrics_users)

    def readable(self, who: Identity | None, name: str) -> bool:
        if self.authenticates and who is None:
            return False  # only /healthz passes the middleware without a user, and it names no log
        if who is not None and self.basic and not who.via_proxy:
            # The user as the users table says now: a stream opened before a reload keeps its first identity.
            entry = self.users.get(who.name)
            if entry is None:
                return False  # removed since the stream was let in
            who = Identity(entry.name, entry.groups)
        return self.rules.allows(who, name)

    def may_read_metrics(self, who: Identity | None) -> bool:
        return not self.metrics_users or (who is not None and who.name in self.metrics_users)


def identity(scope: Scope) -> Identity | None:
    who: Identity | None = scope.get(USER)
    return who


def control_of(scope: Scope) -> AccessControl:
    control: AccessControl = scope["app"].state.logtail.access.control
    return control


def unknown_log(name: str) -> str:
    return f"unknown log {name[:200]!r}"


def first_unreadable(control: AccessControl, scope: Scope, names: Iterable[str]) -> str | None:
    """The first of `names` the request's user may not read, or None if all are readable."""
    who = identity(scope)
    return next((name for name in names if not control.readable(who, name)), None)


def readable(request_or_scope: HTTPConnection | Scope, name: str) -> bool:
    scope = _scope(request_or_scope)
    return control_of(scope).readable(identity(scope), name)


def require_readable(request_or_scope: HTTPConnection | Scope, names: Iterable[str]) -> None:
    """404, as for an unknown log, if the request's user may not read one of `names`."""
    scope = _scope(request_or_scope)
    denied = first_unreadable(control_of(scope), scope, names)
    if denied is not None:
        raise HTTPException(404, detail=unknown_log(denied))


def _scope(request_or_scope: HTTPConnection | Scope) -> Scope:
    if isinstance(request_or_scope, HTTPConnection):
        return request_or_scope.scope
    return request_or_scope
