"""Who may sign in: users with their password hashes and groups, from a users file, `[users]` or `--auth`.

A users file has one user a line, htpasswd-style, with the groups after a second colon:

    # name:hash from `logtail hash-password`:groups
    alice:scrypt$c2FsdA==$ZGlnZXN0:web,oncall
    bob:scrypt$...$...:dba

Blank lines and lines starting with `#` are skipped. Only scrypt hashes are accepted in a file (a file of
plain passwords is one `cat` away from a leak); `--auth USER:PASS` may still carry a plain password. The
TOML `[users]` table holds the same: `alice = { password = "scrypt$...", groups = ["web"] }`.

`UserTable` is the running set; `replace` swaps it in one step (on SIGHUP), and `generation` tells the
Basic-auth cache that what it remembered may no longer hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logtail.config import ConfigError

USER_RE = re.compile(r"[^\s:,]{1,128}")
GROUP_RE = re.compile(r"[A-Za-z0-9._@-]{1,128}")


@dataclass(frozen=True)
class UserEntry:
    name: str
    secret: str  # a scrypt hash, or (from --auth only) a plain password
    groups: frozenset[str] = frozenset()


def parse_users_file(text: str, origin: str) -> dict[str, UserEntry]:
    """The users of a users file; a bad line raises ConfigError naming the file and line."""
    users: dict[str, UserEntry] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{origin} line {number}"
        name, sep, rest = line.partition(":")
        secret, _, groups = rest.partition(":")
        if not sep or not secret:
            raise ConfigError(f"{where}: expected NAME:HASH or NAME:HASH:GROUP,GROUP")
        entry = make_user(name, secret, [g.strip() for g in groups.split(",") if g.strip()], where)
        _add(users, entry, where)
    return users


def parse_users_table(table: Mapping[str, Any], origin: str) -> dict[str, UserEntry]:
    """The users of a TOML `[users]` table: `name = { password = "scrypt$...", groups = [...] }`."""
    users: dict[str, UserEntry] = {}
    for name, spec in table.items():
        where = f"{origin} [users] {name!r}"
        if not isinstance(spec, dict) or set(spec) - {"password", "groups"} or "password" not in spec:
            raise ConfigError(f"{where}: expected {{ password = \"scrypt$...\", groups = [\"...\"] }}")
        password, groups = spec["password"], spec.get("groups", [])
        if not isinstance(password, str) or not isinstance(groups, list) or \
                not all(isinstance(g, str) for g in groups):
            raise ConfigError(f"{where}: password must be a string and groups a list of strings")
        _add(users, make_user(name, password, groups, where), where)
    return users


def make_user(name: str, secret: str, groups: Iterable[str], where: str, plain_ok: bool = False) -> UserEntry:
    if not USER_RE.fullmatch(name):
        raise ConfigError(f"{where}: user name {name[:50]!r} must be 1-128 characters without spaces, ':' or ','")
    if not plain_ok and not (secret.startswith("scrypt$") and secret.count("$") == 2):
        raise ConfigError(f"{where}: the password must be a hash from `logtail hash-password` (scrypt$...)")
    groups = frozenset(groups)
    bad = next((g for g in sorted(groups) if not GROUP_RE.fullmatch(g)), None)
    if bad is not None:
        raise ConfigError(f"{where}: group {bad[:50]!r} is not 1-128 of A-Z a-z 0-9 . _ @ -")
    return UserEntry(name, secret, groups)


def _add(users: dict[str, UserEntry], entry: UserEntry, where: str) -> None:
    if entry.name in users:
        raise ConfigError(f"{where}: user {entry.name!r} is defined twice")
    users[entry.name] = entry


def load_users(auth: str | None, users_file: str | None, table: Mapping[str, Any]) -> dict[str, UserEntry]:
    """Every configured user: `--auth`, the users file and `[users]` together (blocking: reads the file)."""
    users: dict[str, UserEntry] = {}
    if auth:
        name, _, secret = auth.partition(":")
        users[name] = make_user(name, secret, (), "auth", plain_ok=True)
    if users_file:
        try:
            text = Path(users_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"users file {users_file}: {getattr(exc, 'strerror', None) or exc}") from None
        for entry in parse_users_file(text, f"users file {users_file}").values():
            _add(users, entry, f"users file {users_file}")
    for entry in parse_users_table(table, "config file").values():
        _add(users, entry, "config file [users]")
    return users


class UserTable:
    """The users a running server accepts; replaced whole on reload."""

    def __init__(self, users: Mapping[str, UserEntry] | None = None) -> None:
        self._users = dict(users or {})
        self.generation = 0

    def __bool__(self) -> bool:
        return bool(self._users)

    def __contains__(self, name: str) -> bool:
        return name in self._users

    @property
    def hashed(self) -> bool:
        """Whether any password is a scrypt hash (then so is the stand-in an unknown name is checked against)."""
        return any(entry.secret.startswith("scrypt$") for entry in self._users.values())

    def get(self, name: str) -> UserEntry | None:
        return self._users.get(name)

    def replace(self, users: Mapping[str, UserEntry]) -> None:
        self._users = dict(users)
        self.generation += 1
