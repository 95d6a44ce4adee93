"""Who sees what, as pure functions: globs, rules, users files, trusted proxies, config checks (issue 26)."""

from __future__ import annotations

from pathlib import Path

import pytest

from logtail.config import ConfigError, resolve
from logtail.web.access import AccessControl, AccessRules, Identity, glob_regex
from logtail.web.audit import filter_of
from logtail.web.middleware.auth import AuthLimits, VerifiedCredentials
from logtail.web.middleware.proxyauth import TrustedProxies, parse_groups
from logtail.web.users import UserTable, load_users, parse_users_file, parse_users_table

HASH = "scrypt$c2FsdHNhbHRzYWx0c2FsdA==$ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0MTI="
ALICE = Identity("alice", frozenset({"web"}))
BOB = Identity("bob", frozenset({"dba"}))
CAROL = Identity("carol")


@pytest.mark.parametrize(("pattern", "name", "matches"), [
    ("nginx*", "nginx.access.log", True),
    ("nginx*", "app.nginx", False),
    ("*@db*", "pg.log@db1", True),
    ("*@db*", "pg.log", False),
    ("app.log", "app.log@web1", False),  # a glob without * names one log, not its shipped copies
    ("app.log", "appXlog", False),  # `.` is a plain character
    ("a?c", "abc", True),
    ("a?c", "ac", False),
    ("[x]", "[x]", True),  # unlike fnmatch, brackets are plain
    ("[x]", "x", False),
    ("*", "anything@any.host", True),
])
def test_globs(pattern: str, name: str, matches: bool) -> None:
    assert bool(glob_regex(pattern).fullmatch(name)) is matches


def test_grants_add_up_and_what_no_rule_grants_is_denied() -> None:
    rules = AccessRules([("nginx*", ["group:web", "alice"]), ("*@db*", ["group:dba"]), ("db.log", ["alice"])])
    assert [n for n in ("nginx.log", "pg@db1", "db.log", "other") if rules.allows(ALICE, n)] == ["nginx.log",
                                                                                                   "db.log"]
    assert [n for n in ("nginx.log", "pg@db1", "db.log", "other") if rules.allows(BOB, n)] == ["pg@db1"]
    assert not any(rules.allows(CAROL, n) for n in ("nginx.log", "pg@db1", "db.log", "other"))
    assert not rules.allows(None, "nginx.log")


def test_without_rules_every_user_reads_every_log() -> None:
    assert AccessRules().allows(CAROL, "x") and AccessRules().allows(None, "x")


def test_a_user_removed_from_the_table_reads_nothing() -> None:
    users = UserTable(parse_users_file(f"alice:{HASH}:web\n", "f"))
    control = AccessControl(users, AccessRules(), basic=True, authenticates=True)
    assert control.readable(ALICE, "x")
    control.rules = AccessRules([("x", ["group:web"])])
    assert control.readable(Identity("alice"), "x")  # the groups the table gives now, not those of the stream
    users.replace(parse_users_file(f"alice:{HASH}:\n", "f"))
    assert not control.readable(ALICE, "x")
    users.replace({})
    assert not control.readable(ALICE, "x")
    assert not control.readable(None, "x")  # with auth on, no user is nobody


def test_users_file_lines() -> None:
    text = f"# comment\n\nalice:{HASH}:web, oncall\nbob:{HASH}\n"
    users = parse_users_file(text, "users")
    assert users["alice"].groups == frozenset({"web", "oncall"}) and users["bob"].groups == frozenset()
    assert users["alice"].secret == HASH


@pytest.mark.parametrize(("text", "message"), [
    ("alice", "users line 1: expected NAME:HASH"),
    ("alice:plain:web", "users line 1: the password must be a hash"),
    (f"alice:{HASH}\nalice:{HASH}", "users line 2: user 'alice' is defined twice"),
    (f"alice:{HASH}:we b", "users line 1: group 'we b'"),
    (f"al ice:{HASH}", "users line 1: user name 'al ice'"),
])
def test_users_file_mistakes_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match="^" + message.replace("[", r"\[")):
        parse_users_file(text, "users")


def test_users_table_and_auth_together(tmp_path: Path) -> None:
    file = tmp_path / "users"
    file.write_text(f"bob:{HASH}:dba\n")
    users = load_users("root:plain", str(file), {"alice": {"password": HASH, "groups": ["web"]}})
    assert sorted(users) == ["alice", "bob", "root"] and users["root"].secret == "plain"
    with pytest.raises(ConfigError, match=r"\[users\] 'x'"):
        parse_users_table({"x": {"password": HASH, "group": ["typo"]}}, "c")
    with pytest.raises(ConfigError, match="defined twice"):
        load_users(None, str(file), {"bob": {"password": HASH}})
    with pytest.raises(ConfigError, match=r"users file .*nope"):
        load_users(None, str(tmp_path / "nope"), {})


def test_trusted_proxies() -> None:
    trusted = TrustedProxies("127.0.0.2, 10.0.0.0/8,unix:/run/x.sock")
    assert "127.0.0.2" in trusted and "10.1.2.3" in trusted and "unix:/run/x.sock" in trusted
    assert "127.0.0.1" not in trusted and None not in trusted and "garbage" not in trusted
    assert "1.2.3.4" in TrustedProxies("*")


def test_group_headers() -> None:
    assert parse_groups([b"web, dba", b"oncall"]) == frozenset({"web", "dba", "oncall"})
    assert parse_groups([b"\xff"]) is None
    assert parse_groups([]) == frozenset()


def test_verified_credentials_name_their_user_and_clear() -> None:
    verified = VerifiedCredentials(AuthLimits())
    verified.add(b"Basic x", "alice")
    assert verified.find(b"Basic x") == "alice" and verified.find(b"Basic y") is None
    verified.clear()
    assert verified.find(b"Basic x") is None


def test_audit_filter_is_the_filter_parameters_as_given() -> None:
    assert filter_of(b"q=err&backlog=5&level=error&level=warn&log=a") == {"q": ["err"], "level": ["error", "warn"]}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_config_tables(tmp_path: Path) -> None:
    cfg = _write(tmp_path, f'[users]\nalice = {{ password = "{HASH}", groups = ["web"] }}\n'
                           '[access]\n"app*" = ["group:web", "bob"]\n')
    settings = resolve({}, ["x.log"], cfg, {})
    assert settings.access == (("app*", ("group:web", "bob")),)
    assert dict(settings.users_table)["alice"]["groups"] == ["web"]
    path_cfg = _write(tmp_path, 'users = "/etc/logtail/users"\n')
    assert resolve({}, ["x.log"], path_cfg, {}).users == "/etc/logtail/users"


@pytest.mark.parametrize(("text", "flags", "message"), [
    ('[access]\n"*" = ["alice"]\n', {}, r"\[access\] rules need users"),
    ('[access]\n"*" = "alice"\n', {"auth": "a:b"}, r"\[access\] '\*' must be a list"),
    ('[access]\n"*" = ["group:"]\n', {"auth": "a:b"}, "needs a group name"),
    ("", {"auth": "a:b", "auth_proxy_header": "X-User"}, "auth_proxy_header replaces Basic auth"),
    ("", {"auth_proxy_header": "X User"}, "not an HTTP header name"),
    ("", {"auth_proxy_groups_header": "X-Groups"}, "needs auth_proxy_header"),
    ("", {"auth_proxy_header": "X-User", "forwarded_allow_ips": "*"}, "not '\\*'"),
    ("", {"metrics_users": "alice"}, "metrics_users needs users"),
])
def test_config_mistakes(tmp_path: Path, text: str, flags: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve(flags, ["x.log"], _write(tmp_path, text), {})
