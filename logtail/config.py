"""Configuration: one `Settings` value built once from a TOML file, `LOGTAIL_*` variables and flags.

Precedence is flag > environment > file > default, resolved per setting in `resolve()`. Anything wrong
(unknown key, bad value, duplicate log name, unreadable file) raises `ConfigError` with one line naming the
problem; the CLI prints it and exits with status 2.
"""

from __future__ import annotations

import glob
import re
import shlex
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from logtail.watches.spec import DestinationSpec, WatchSpec

# A log's own configuration (SOURCE strings, [logs] tables) is parsed in sourcespec.py; its names are
# re-exported here, where the rest of the package looks for them.
from logtail.sourcespec import NAME_RE as NAME_RE
from logtail.sourcespec import ConfigError as ConfigError
from logtail.sourcespec import LogSource as LogSource
from logtail.sourcespec import check_name as check_name
from logtail.sourcespec import check_sources, duration, file_sources
from logtail.sourcespec import parse_source as parse_source

WATCHERS = ("auto", "inotify", "watchfiles", "poll")
MAX_RETRY_MS = 86_400_000  # a day: EventSource takes any integer, but a longer wait is surely a typo
MAX_ROTATE_WAIT = 3600  # an hour: longer would hold a rotated file's descriptor (and disk space) for nothing


@dataclass(frozen=True)
class Settings:
    sources: tuple[LogSource, ...] = ()
    host: str = "127.0.0.1"
    port: int = 8000
    heartbeat: float = 15.0
    root_path: str = ""
    max_clients: int = 10000
    backlog: int = 10
    window_lines: int = 10000
    max_line_bytes: int = 65536
    queue_bytes: int = 4 * 1024 * 1024
    send_timeout: float = 30.0
    resume_max_bytes: int = 64 * 1024 * 1024
    retry_ms: int = 2000
    watcher: str = "auto"
    poll_interval: float = 1.0
    rotate_wait: float = 5.0
    multiline_wait: float = 1.0  # a log's with `multiline` unless its own says
    auth: str | None = None
    forwarded_allow_ips: str = "127.0.0.1"
    cors_origins: tuple[str, ...] = ()
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    shutdown_timeout: float = 3.0
    workers: int = 1
    log_level: str = "info"
    page_max_lines: int = 5000
    # Seconds a busy log waits between reads per subscriber (the fan-out window, within pacing.LATENCY_BUDGET).
    flush_window: float = 2.5e-5
    # Many hosts (sources/redis/, ship/): the Redis URL of `ship` and `serve`, and the shipper's own settings.
    redis: str | None = None
    redis_maxlen: int = 100_000
    host_name: str | None = None
    metrics_port: int | None = None
    # Watches (logtail/watches/): where their positions are kept, and their [watches.*] / [destinations.*].
    state_dir: str | None = None
    watches: tuple[WatchSpec, ...] = ()
    destinations: tuple[DestinationSpec, ...] = ()
    # Who sees what (web/users.py, web/access.py, docs/access.md). `users` is the users file; the TOML file's
    # `[users]` and `[access]` tables arrive as `users_table` and `access`, and `config_file` is kept so that
    # SIGHUP can read them again.
    users: str | None = None
    auth_proxy_header: str | None = None
    auth_proxy_groups_header: str | None = None
    metrics_users: tuple[str, ...] = ()
    users_table: tuple[tuple[str, Any], ...] = ()
    access: tuple[tuple[str, tuple[str, ...]], ...] = ()
    config_file: Path | None = None

    @property
    def authenticates(self) -> bool:
        """Whether every request (but /healthz) names a user."""
        return bool(self.auth or self.users or self.users_table or self.auth_proxy_header)
    host_heartbeat: float = 10.0
    host_gone_after: float = 60.0
    host_hide_after: float = 604_800.0
    journal_directory: str | None = None  # journal sources read the files here, not the system journal


# Setting name -> (type, help). The CLI builds its flags from this table and docs/configuration.md documents it; the
# default shown in the help is the field's default in `Settings` (see `help_text`).
OPTIONS: dict[str, tuple[type, str]] = {
    "host": (str, "interface to bind"),
    "port": (int, "TCP port"),
    "heartbeat": (float, "seconds between heartbeat comments on a quiet stream"),
    "root_path": (str, "URL prefix when served under a sub-path by a proxy, e.g. /logs"),
    "max_clients": (int, "open streams allowed; the next gets 503 with Retry-After"),
    "backlog": (int, "lines sent first when a stream opens without backlog="),
    "window_lines": (int, "recent lines kept in memory per log for backlog and resume"),
    "max_line_bytes": (int, "longer lines are cut on a character boundary and flagged"),
    "queue_bytes": (int, "per-client queue bound; a slower client catches up from memory and the files, "
                         "or skips ahead with overflow=skip"),
    "send_timeout": (float, "a client whose socket accepts nothing for this long is disconnected"),
    "resume_max_bytes": (int, "most bytes read back from the files to resume or catch up a client; 0 reads none"),
    "retry_ms": (int, f"reconnect delay announced to EventSource clients, at most {MAX_RETRY_MS}"),
    "watcher": (str, "change notification: auto, inotify, watchfiles or poll"),
    "poll_interval": (float, "seconds between rescans of files and globs, a safety net"),
    "multiline_wait": (str, "seconds (or \"500ms\", \"2s\") an event of a log with multiline that is still being "
                            "written is held before it is sent as it is; a log's own multiline_wait wins"),
    "rotate_wait": (float, f"seconds a renamed file is still read after its last write, at most {MAX_ROTATE_WAIT}"),
    "auth": (str, "HTTP Basic credentials USER:PASSWORD or USER:<hash from `logtail hash-password`>"),
    "forwarded_allow_ips": (str, "proxies trusted for X-Forwarded-* headers"),
    "cors_origins": (str, "comma-separated origins allowed to read the API cross-origin"),
    "ssl_certfile": (str, "TLS certificate file (serve HTTPS without a proxy)"),
    "ssl_keyfile": (str, "TLS private key file"),
    "shutdown_timeout": (float, "seconds to wait for connections to close on SIGTERM"),
    "workers": (int, "server processes sharing the port; each follows the files itself"),
    "log_level": (str, "logging level: debug, info, warning, error"),
    "page_max_lines": (int, "lines the dashboard keeps on the page"),
    "redis": (str, "Redis URL (redis://, rediss://, unix://; redis+cluster:// for a Redis Cluster): ship into it, "
                   "or serve the logs shipped there"),
    "redis_maxlen": (int, "ship: lines kept per stream in Redis (at least this many, at most one entry more)"),
    "host_name": (str, "ship: this host's name in log names NAME@HOST (default: the hostname; URL-safe)"),
    "metrics_port": (int, "ship: serve Prometheus metrics on this port (default: none)"),
    "state_dir": (str, "directory for the watches' positions, so no line goes unwatched across a restart"),
    "users": (str, "users file of NAME:HASH:GROUP,GROUP lines (docs/access.md); reloaded on SIGHUP"),
    "auth_proxy_header": (str, "take the user from this header set by a proxy at --forwarded-allow-ips, "
                               "e.g. X-Forwarded-User"),
    "auth_proxy_groups_header": (str, "with --auth-proxy-header: the user's comma-separated groups, "
                                      "e.g. X-Forwarded-Groups"),
    "metrics_users": (str, "comma-separated users allowed /metrics when auth is on; none: every user"),
    "host_heartbeat": (float, "ship: seconds between heartbeats into the host's record in Redis"),
    "host_gone_after": (float, "seconds without a heartbeat after which a shipping host is gone "
                               "(silent after 2.5 heartbeats)"),
    "host_hide_after": (float, "seconds without a heartbeat after which a host is left out of /api/hosts"),
    "journal_directory": (str, "journal sources read the journal files in this directory (default: the system "
                               "journal)"),
}
# The settings `logtail ship` takes (the rest only concern the HTTP server), and those only it takes.
SHIP_OPTIONS = ("host", "redis", "redis_maxlen", "host_name", "metrics_port", "max_line_bytes", "window_lines",
                "watcher", "poll_interval", "log_level", "host_heartbeat", "journal_directory", "multiline_wait")
SHIP_ONLY = ("host_name", "metrics_port", "host_heartbeat")
LIST_OPTIONS = ("cors_origins", "metrics_users")
HEADER_RE = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}")
_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(Settings)}


def default_of(name: str) -> Any:
    """A setting's default: the one place it is written is the `Settings` field."""
    return _DEFAULTS[name]


def help_text(name: str) -> str:
    """The setting's help, with its default as the operator would write it."""
    default = default_of(name)
    if default is None or default == "":
        return OPTIONS[name][1]
    if default == ():
        shown = "none"
    elif name.endswith("_bytes") and default >= 1 << 20 and default % (1 << 20) == 0:
        shown = f"{default >> 20} MiB"
    elif isinstance(default, float):
        shown = f"{default:g}"
    else:
        shown = str(default)
    return f"{OPTIONS[name][1]} (default {shown})"


def load_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: invalid TOML: {exc}") from None
    known = set(OPTIONS) | {"sources", "logs", "watches", "destinations", "access"}
    for key in data:
        if key not in known:
            raise ConfigError(f"config file {path}: unknown key {key!r}")
    return data


def convert(name: str, value: Any, origin: str) -> Any:
    kind = OPTIONS[name][0]
    if name == "multiline_wait":
        return duration(value, f"{origin}: multiline_wait")
    if name in LIST_OPTIONS:
        items = value if isinstance(value, list) else str(value).split(",")
        return tuple(str(v).strip() for v in items if str(v).strip())
    try:
        # Strict on types: `port = 8000.7` (or true) in a file is a mistake, not port 8000 (or 1).
        if kind is int and isinstance(value, int | str) and not isinstance(value, bool):
            converted: Any = int(value)
        elif kind is float and isinstance(value, int | float | str) and not isinstance(value, bool):
            converted = float(value)
        elif kind is str and isinstance(value, str | int | float) and not isinstance(value, bool):
            converted = str(value)
        else:
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigError(f"{origin}: {name} must be {kind.__name__}, got {value!r}") from None
    return converted


def validate(s: Settings, given: Collection[str] = ()) -> None:
    """Checks across the whole configuration, defaults included; the first problem raises ConfigError.

    `given` names the settings the operator set: a backlog larger than the window is an error only when
    both were chosen, since streams send at most the window (`--window-lines 5` alone is fine).
    """
    _check_range("port", s.port, 0, 65535)
    _check_range("retry_ms", s.retry_ms, 0, MAX_RETRY_MS)
    _check_range("resume_max_bytes", s.resume_max_bytes, 0, None)
    _check_range("backlog", s.backlog, 0, s.window_lines if "backlog" in given else None, "window_lines")
    for name in ("heartbeat", "poll_interval", "send_timeout", "shutdown_timeout", "host_heartbeat", "host_gone_after",
                 "host_hide_after"):
        if getattr(s, name) <= 0:
            raise ConfigError(f"{name} must be positive")
    _check_range("metrics_port", s.metrics_port or 0, 0, 65535)
    for name in ("max_clients", "window_lines", "max_line_bytes", "queue_bytes", "workers", "page_max_lines",
                 "redis_maxlen"):
        if getattr(s, name) < 1:
            raise ConfigError(f"{name} must be at least 1")
    if not 0 <= s.rotate_wait <= MAX_ROTATE_WAIT:  # also refuses nan and inf
        raise ConfigError(f"rotate_wait must be between 0 and {MAX_ROTATE_WAIT} seconds, got {s.rotate_wait}")
    if s.watcher not in WATCHERS:
        raise ConfigError(f"watcher must be one of {', '.join(WATCHERS)}")
    if s.root_path and (not s.root_path.startswith("/") or s.root_path.endswith("/")):
        raise ConfigError(f"root_path {s.root_path!r} must start with '/' and not end with '/' (e.g. /logs)")
    if s.auth is not None and (":" not in s.auth or not s.auth.partition(":")[0]):
        raise ConfigError("auth must be USER:PASSWORD (or USER:<hash>)")
    if s.state_dir and Path(s.state_dir).exists() and not Path(s.state_dir).is_dir():
        raise ConfigError(f"state_dir {s.state_dir} is not a directory")
    if bool(s.ssl_certfile) != bool(s.ssl_keyfile):
        raise ConfigError("ssl_certfile and ssl_keyfile must be given together")
    _validate_access(s)


def _validate_access(s: Settings) -> None:
    for name in ("auth_proxy_header", "auth_proxy_groups_header"):
        value = getattr(s, name)
        if value is not None and not HEADER_RE.fullmatch(value):
            raise ConfigError(f"{name} {value[:50]!r} is not an HTTP header name")
    if s.auth_proxy_groups_header and not s.auth_proxy_header:
        raise ConfigError("auth_proxy_groups_header needs auth_proxy_header")
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


def _log_names(sources: list[LogSource]) -> set[str]:
    """The names of the logs followed at start: named files, and the files globs match now."""
    names = {src.name for src in sources if src.name is not None}
    for src in sources:
        if src.is_glob:
            names.update(Path(p).name for p in glob.glob(str(src.path)))
    return names


def _check_range(name: str, value: float, low: float, high: float | None, high_name: str | None = None) -> None:
    if not (value >= low and (high is None or value <= high)):  # also refuses nan
        if high is None:
            raise ConfigError(f"{name} must be at least {low}")
        raise ConfigError(f"{name} must be between {low} and {high_name or high}")


def resolve(flags: dict[str, Any], sources: list[str] | None, config_file: Path | None,
            environ: Mapping[str, str]) -> Settings:
    """Build Settings: each value from the flag, else LOGTAIL_<NAME>, else the config file, else default."""
    data = load_file(config_file) if config_file else {}
    values: dict[str, Any] = {}
    for name in OPTIONS:
        env = environ.get(f"LOGTAIL_{name.upper()}")
        if flags.get(name) is not None:
            values[name] = convert(name, flags[name], f"--{name.replace('_', '-')}")
        elif env is not None:
            values[name] = convert(name, env, f"LOGTAIL_{name.upper()}")
        elif name in data and not (name == "users" and isinstance(data[name], dict)):
            values[name] = convert(name, data[name], f"config file {config_file}")
    cwd = Path.cwd()
    if sources:
        srcs = [parse_source(s, cwd) for s in sources]
    elif environ.get("LOGTAIL_SOURCES"):
        srcs = [parse_source(s, cwd) for s in shlex.split(environ["LOGTAIL_SOURCES"])]
    else:
        srcs = file_sources(data, config_file.parent if config_file else cwd)
    wait = values.get("multiline_wait", default_of("multiline_wait"))
    srcs = [replace(src, multiline_wait=wait) if src.multiline_spec and src.multiline_wait is None else src
            for src in srcs]
    check_sources(tuple(srcs))
    if data.get("watches") or data.get("destinations"):
        from logtail.watches.spec import parse_watch_config  # imports the filters: only when there are watches

        found = parse_watch_config(data, tuple(srcs), _log_names(srcs), bool(values.get("redis")), environ)
        values["watches"], values["destinations"] = found.watches, found.destinations
    origin = f"config file {config_file}"
    settings = Settings(sources=tuple(srcs), users_table=users_table(data, origin), access=access_table(data, origin),
                        config_file=config_file.resolve() if config_file else None, **values)
    validate(settings, values.keys())
    return settings

