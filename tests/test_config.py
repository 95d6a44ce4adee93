"""Configuration: sources, names, precedence (flag > env > file > default) and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from logtail.cli import build_parser, settings_from_args
from logtail.config import OPTIONS, ConfigError, LogSource, Settings, help_text, parse_source, resolve


def test_source_forms(tmp_path: Path) -> None:
    assert parse_source("/var/log/app.log", tmp_path) == LogSource("app.log", Path("/var/log/app.log"))
    assert parse_source("nginx=/var/log/nginx/access.log", tmp_path) == LogSource(
        "nginx", Path("/var/log/nginx/access.log"))
    assert parse_source("jobs/*.log", tmp_path) == LogSource(None, tmp_path / "jobs/*.log", is_glob=True)
    assert parse_source("rel.log", tmp_path).path == tmp_path / "rel.log"


@pytest.mark.parametrize("spec", ["bad name=/x.log", "a/b=/y", "=/y", "x?y=/z"])
def test_names_must_be_url_safe(spec: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        parse_source(spec, tmp_path)


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"duplicate log name 'app\.log'"):
        resolve({}, [str(tmp_path / "a/app.log"), str(tmp_path / "b/app.log")], None, {})


def test_precedence_flag_over_env_over_file(tmp_path: Path) -> None:
    cfg = tmp_path / "logtail.toml"
    cfg.write_text('port = 7000\nheartbeat = 3\nroot_path = "/file"\nsources = ["a.log"]\n[logs]\nweb = "w.log"\n')
    s = resolve({"port": 9000}, None, cfg, {"LOGTAIL_PORT": "8000", "LOGTAIL_HEARTBEAT": "4"})
    assert (s.port, s.heartbeat, s.root_path) == (9000, 4.0, "/file")
    assert [src.name for src in s.sources] == ["a.log", "web"]
    assert s.sources[0].path == tmp_path / "a.log"  # relative to the config file


def test_rotate_wait_from_flag_env_or_file(tmp_path: Path) -> None:
    cfg = tmp_path / "logtail.toml"
    cfg.write_text("rotate_wait = 30\n")
    assert Settings().rotate_wait == 5.0
    assert resolve({}, None, cfg, {}).rotate_wait == 30.0
    assert resolve({}, None, cfg, {"LOGTAIL_ROTATE_WAIT": "0"}).rotate_wait == 0.0
    assert resolve({"rotate_wait": 1.5}, None, cfg, {"LOGTAIL_ROTATE_WAIT": "0"}).rotate_wait == 1.5
    with pytest.raises(ConfigError, match=r"^LOGTAIL_ROTATE_WAIT: rotate_wait must be float"):
        resolve({}, None, None, {"LOGTAIL_ROTATE_WAIT": "5s"})


def test_env_sources(tmp_path: Path) -> None:
    s = resolve({}, None, None, {"LOGTAIL_SOURCES": f"x={tmp_path}/one.log {tmp_path}/two.log"})
    assert [src.name for src in s.sources] == ["x", "two.log"]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("prot = 1\n", "unknown key 'prot'"),
        ("port = 'eighty'\n", "port must be int"),
        ("port = 70000\n", "port must be between"),
        ("heartbeat = 0\n", "heartbeat must be positive"),
        ('root_path = "logs/"\n', "root_path"),
        ('watcher = "magic"\n', "watcher must be one of"),
        ("sources = 'x'\n", "'sources' must be a list"),
        ("port = \n", "invalid TOML"),
        ('auth = "nocolon"\n', "auth must be USER:PASSWORD"),
        ("port = 8000.7\n", "port must be int, got 8000.7"),
        ("port = 8000.0\n", "port must be int"),
        ("port = true\n", "port must be int"),
        ('host = false\n', "host must be str"),
        ("retry_ms = -1\n", "retry_ms must be between 0 and 86400000"),
        ("retry_ms = 86400001\n", "retry_ms must be between"),
        ("resume_max_bytes = -1\n", "resume_max_bytes must be at least 0"),
        ("backlog = 20001\n", "backlog must be between 0 and window_lines"),
        ("backlog = 6\nwindow_lines = 5\n", "backlog must be between 0 and window_lines"),
        ("rotate_wait = -1\n", "rotate_wait must be between 0 and 3600 seconds, got -1.0"),
        ("rotate_wait = 3601\n", "rotate_wait must be between 0 and 3600 seconds"),
        ("rotate_wait = nan\n", "rotate_wait must be between 0 and 3600 seconds, got nan"),
        ("rotate_wait = 'soon'\n", "rotate_wait must be float"),
    ],
)
def test_bad_config_names_the_problem(tmp_path: Path, toml: str, message: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        resolve({}, None, cfg, {})


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No such file"):
        resolve({}, None, tmp_path / "nope.toml", {})


def test_defaults_bind_loopback() -> None:
    assert Settings().host == "127.0.0.1"
    assert Settings().heartbeat == 15.0 and Settings().backlog == 10 and Settings().window_lines >= 10000


def test_env_values_are_range_checked_too() -> None:
    with pytest.raises(ConfigError, match="retry_ms must be between"):
        resolve({}, [], None, {"LOGTAIL_RETRY_MS": "-5"})
    with pytest.raises(ConfigError, match=r"LOGTAIL_PORT: port must be int, got '80\.5'"):
        resolve({}, [], None, {"LOGTAIL_PORT": "80.5"})


def test_edge_values_are_accepted() -> None:
    s = resolve({"retry_ms": 0, "resume_max_bytes": 0, "port": 0}, [], None, {})
    assert (s.retry_ms, s.resume_max_bytes, s.port) == (0, 0, 0)


def test_a_window_smaller_than_the_default_backlog_is_fine() -> None:
    """Streams send at most the window: only a backlog chosen larger than the window is a mistake."""
    assert resolve({"window_lines": 5}, [], None, {}).window_lines == 5


def test_help_shows_the_fields_defaults() -> None:
    assert help_text("port") == "TCP port (default 8000)"
    assert help_text("queue_bytes").endswith("(default 4 MiB)")
    assert help_text("heartbeat").endswith("(default 15)")
    assert help_text("cors_origins").endswith("(default none)")
    assert "default" not in help_text("auth")
    assert help_text("window_lines").endswith(f"(default {Settings().window_lines})")


def test_every_flag_is_documented_in_docs_configuration_as_the_cli_describes_it() -> None:
    """The table row of docs/configuration.md for each flag of `serve` and `ship` says what `--help` says."""
    doc = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text()
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    flags = {a.dest: a for cmd in ("serve", "ship") for a in commands[cmd]._actions if a.dest in OPTIONS}
    assert set(flags) == set(OPTIONS)
    for name, action in flags.items():
        row = f"| `{action.option_strings[0]}` | `LOGTAIL_{name.upper()}` / `{name}` | {action.help} |"
        assert row in doc, f"docs/configuration.md does not document {name} as: {row}"


@pytest.mark.parametrize("name", ["metrics_users", "cors_origins"])
def test_list_settings_from_a_flag_the_environment_or_the_file(name: str, tmp_path: Path) -> None:
    """A list setting is comma-separated as a flag or in the environment, and a string or a list in the file;
    a flag wins over both."""
    flag, env = f"--{name.replace('_', '-')}", f"LOGTAIL_{name.upper()}"
    cfg = tmp_path / "logtail.toml"
    cfg.write_text(f'users = "/etc/logtail/users"\n{name} = ["c", "d"]\n')  # metrics_users needs users
    args = build_parser().parse_args(["serve", flag, "a, b", "--config", str(cfg)])
    assert getattr(settings_from_args(args), name) == ("a", "b")
    assert getattr(resolve({}, None, cfg, {env: "e,f"}), name) == ("e", "f")
    assert getattr(resolve({}, None, cfg, {}), name) == ("c", "d")
