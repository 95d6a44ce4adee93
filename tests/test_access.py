"""Who sees what, as pure functions: globs, rules, users files, trusted proxies, config checks (issue 26)."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.types import Message, Receive, Scope, Send

from logtail.config import ConfigError, resolve
from logtail.web.access import USER, AccessControl, AccessRules, Identity, glob_regex
from logtail.web.audit import filter_of
from logtail.web.middleware import auth
from logtail.web.middleware.auth import AuthLimits, BasicAuth, VerifiedCredentials, hash_password
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
    ("", {"auth_proxy_sign_out": "/oauth2/sign_out"}, "auth_proxy_sign_out needs auth_proxy_header"),
    ("", {"auth_proxy_header": "X-User", "forwarded_allow_ips": "127.0.0.2", "auth_proxy_sign_out": "javascript:x"},
     "auth_proxy_sign_out 'javascript:x' is not a path"),
    ("", {"auth_proxy_header": "X-User", "forwarded_allow_ips": "127.0.0.2", "auth_proxy_sign_out": "/a b"},
     "is not a path"),
    ("", {"auth_proxy_header": "X-User", "forwarded_allow_ips": "*"}, "not '\\*'"),
    ("", {"metrics_users": "alice"}, "metrics_users needs users"),
])
def test_config_mistakes(tmp_path: Path, text: str, flags: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve(flags, ["x.log"], _write(tmp_path, text), {})


# --- Basic auth with several users ---------------------------------------------------------------------------

async def _inside(scope: Scope, receive: Receive, send: Send) -> None:
    who = scope[USER]
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": f"{who.name}:{','.join(sorted(who.groups))}".encode()})


async def _call(middleware: BasicAuth, user: str, password: str) -> tuple[int, bytes]:
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    header = b"Basic " + base64.b64encode(f"{user}:{password}".encode())
    scope = {"type": "http", "method": "GET", "path": "/api/logs", "root_path": "", "query_string": b"",
             "headers": [(b"authorization", header)], "client": ("192.0.2.1", 40000)}
    await middleware(scope, receive, send)
    return messages[0]["status"], b"".join(m.get("body", b"") for m in messages[1:])


@pytest.fixture(scope="module")
def real_hash() -> str:
    return hash_password("pw")


async def test_each_user_signs_in_with_their_groups(real_hash: str) -> None:
    users = UserTable(parse_users_file(f"alice:{real_hash}:web,oncall\nbob:{real_hash}\n", "f"))
    middleware = BasicAuth(_inside, users=users)
    assert await _call(middleware, "alice", "pw") == (200, b"alice:oncall,web")
    assert await _call(middleware, "bob", "pw") == (200, b"bob:")
    assert (await _call(middleware, "bob", "wrong"))[0] == 401
    assert (await _call(middleware, "nobody", "pw"))[0] == 401
    users.replace(parse_users_file(f"alice:{real_hash}:dba\n", "f"))  # a reload: remembered headers forgotten
    assert await _call(middleware, "alice", "pw") == (200, b"alice:dba")
    assert (await _call(middleware, "bob", "pw"))[0] == 401


async def test_a_burst_of_the_same_credentials_is_checked_once(real_hash: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Pins: 1,000 streams of 10 users opened at once from one address got 990 answers 429 (bench/
    access_bench.py --cold): each copy of the same credentials ran its own scrypt check, counted as a failure
    until it passed, and the address hit the limit."""
    checks: list[str] = []
    real_check = auth.check_password

    def counting(password: str, stored: str) -> bool:
        checks.append(password)
        return real_check(password, stored)

    monkeypatch.setattr(auth, "check_password", counting)
    users = UserTable(parse_users_file("".join(f"u{i}:{real_hash}:g{i}\n" for i in range(10)), "f"))
    middleware = BasicAuth(_inside, users=users)
    answers = await asyncio.gather(*(_call(middleware, f"u{i % 10}", "pw") for i in range(200)))
    assert [status for status, _ in answers] == [200] * 200
    assert len(checks) == 10
    wrong = await asyncio.gather(*(_call(middleware, "u0", "guess") for _ in range(50)))
    statuses = [status for status, _ in wrong]  # one check, but each copy an attempt: at most the limit get 401
    assert len(checks) == 11 and statuses.count(401) == AuthLimits().failures
    assert statuses.count(429) == 50 - AuthLimits().failures


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]], ids=["one-process", "workers"])
def test_a_bad_users_file_stops_the_start_with_exit_2(tmp_path: Path, workers: list[str]) -> None:
    """Pins: with --workers each worker died of the bad file and was replaced, forever, with a traceback each."""
    (tmp_path / "users").write_text("bob:plain:x\n")
    done = subprocess.run([sys.executable, "-m", "logtail", "serve", "--users", str(tmp_path / "users"),
                           str(tmp_path / "app.log"), "--port", "0", *workers],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"logtail: error: users file {tmp_path / 'users'} line 1: the password must be "
                                   "a hash from `logtail hash-password` (scrypt$...)")
