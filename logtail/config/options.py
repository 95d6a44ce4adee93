"""The settings an operator sets (flag, `LOGTAIL_*` variable or config key): their help, type and default, and
how a given value is converted."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, get_args, get_origin, get_type_hints

from logtail.config.settings import MAX_RETRY_MS, MAX_ROTATE_WAIT, ConfigError, Settings, duration

# Setting name -> help. The CLI builds its flags from these and docs/configuration.md documents them; a setting's
# type and default are its field's in `Settings` (see `OPTIONS` and `help_text`).
HELP: dict[str, str] = {
    "host": "interface to bind",
    "port": "TCP port",
    "heartbeat": "seconds between heartbeat comments on a quiet stream",
    "root_path": "URL prefix when served under a sub-path by a proxy, e.g. /logs",
    "max_clients": "open streams allowed; the next gets 503 with Retry-After",
    "backlog": "lines sent first when a stream opens without backlog=",
    "window_lines": "recent lines kept in memory per log for backlog and resume",
    "window_total_lines": "recent lines kept in memory for all logs together: with more logs than "
                          "this allows --window-lines each, each keeps an equal share (at least 100)",
    "max_line_bytes": "longer lines are cut on a character boundary and flagged",
    "queue_bytes": "per-client queue bound; a slower client catches up from memory and the files, "
                   "or skips ahead with overflow=skip",
    "send_timeout": "a client whose socket accepts nothing for this long is disconnected",
    "resume_max_bytes": "most bytes read back from the files to resume or catch up a client; 0 reads none",
    "retry_ms": f"reconnect delay announced to EventSource clients, at most {MAX_RETRY_MS}",
    "watcher": "change notification: auto, inotify, watchfiles or poll",
    "poll_interval": "seconds between rescans of files and globs, a safety net",
    "rotate_wait": f"seconds a renamed file is still read after its last write, at most {MAX_ROTATE_WAIT}",
    "multiline_wait": "seconds (or \"500ms\", \"2s\") an event of a log with multiline that is still being "
                      "written is held before it is sent as it is; a log's own multiline_wait wins",
    "auth": "HTTP Basic credentials USER:PASSWORD or USER:<hash from `logtail hash-password`>",
    "forwarded_allow_ips": "proxies trusted for X-Forwarded-* headers",
    "cors_origins": "comma-separated origins allowed to read the API cross-origin",
    "ssl_certfile": "TLS certificate file (serve HTTPS without a proxy)",
    "ssl_keyfile": "TLS private key file",
    "shutdown_timeout": "seconds to wait for connections to close on SIGTERM",
    "workers": "server processes sharing the port; each follows the files itself",
    "log_level": "logging level: debug, info, warning, error",
    "page_max_lines": "lines the dashboard keeps on the page",
    "redis": "Redis URL (redis://, rediss://, unix://; redis+cluster:// for a Redis Cluster): ship into it, "
             "or serve the logs shipped there",
    "redis_maxlen": "ship: lines kept per stream in Redis (at least this many, at most one entry more)",
    "host_name": "ship: this host's name in log names NAME@HOST (default: the hostname; URL-safe)",
    "metrics_port": "ship: serve Prometheus metrics on this port (default: none)",
    "state_dir": "directory for the watches' positions, so no line goes unwatched across a restart",
    "users": "users file of NAME:HASH:GROUP,GROUP lines (docs/access.md); reloaded on SIGHUP",
    "auth_proxy_header": "take the user from this header set by a proxy at --forwarded-allow-ips, "
                         "e.g. X-Forwarded-User",
    "auth_proxy_groups_header": "with --auth-proxy-header: the user's comma-separated groups, "
                                "e.g. X-Forwarded-Groups",
    "auth_proxy_sign_out": "with --auth-proxy-header: the proxy's sign-out address, linked beside the user's "
                           "name on the page, e.g. /oauth2/sign_out",
    "metrics_users": "comma-separated users allowed /metrics when auth is on; none: every user",
    "host_heartbeat": "ship: seconds between heartbeats into the host's record in Redis",
    "host_gone_after": "seconds without a heartbeat after which a shipping host is gone "
                       "(silent after 2.5 heartbeats)",
    "host_hide_after": "seconds without a heartbeat after which a host is left out of /api/hosts",
    "journal_directory": "journal sources read the journal files in this directory (default: the system "
                         "journal)",
}
# The settings `logtail ship` takes (the rest only concern the HTTP server), and those only it takes.
SHIP_OPTIONS = ("host", "redis", "redis_maxlen", "host_name", "metrics_port", "max_line_bytes", "window_lines",
                         "watcher", "poll_interval", "log_level", "host_heartbeat", "journal_directory",
                "multiline_wait")
SHIP_ONLY = ("host_name", "metrics_port", "host_heartbeat")
LIST_OPTIONS = ("cors_origins", "metrics_users")
DURATION_OPTIONS = ("multiline_wait",)  # seconds, or a string like "500ms": given as text, converted by `duration`
_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(Settings)}
# The field types, with the watches' specs (imported only for type checking) standing as Any.
_HINTS = get_type_hints(Settings, localns={"WatchSpec": Any, "DestinationSpec": Any})


def _kind(hint: Any) -> type:
    """What a setting's value is converted to: its field's type, without None; str for a list of strings
    (given comma-separated)."""
    if get_origin(hint) is tuple:
        return str
    kinds = [k for k in get_args(hint) if k is not type(None)]
    return kinds[0] if kinds else hint  # type: ignore[no-any-return]


# Setting name -> (type, help).
OPTIONS: dict[str, tuple[type, str]] = {name: (str if name in DURATION_OPTIONS else _kind(_HINTS[name]), text)
                                        for name, text in HELP.items()}


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


def convert(name: str, value: Any, origin: str) -> Any:
    kind = OPTIONS[name][0]
    if name in DURATION_OPTIONS:
        return duration(value, f"{origin}: {name}")
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
