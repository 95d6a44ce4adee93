"""The settings: what a configured log is (`LogSource`), every setting with its default (`Settings`), and the
one error a configuration problem raises (`ConfigError`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from logtail.watches.spec import DestinationSpec, WatchSpec

NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")
WATCHERS = ("auto", "inotify", "watchfiles", "poll")
MAX_RETRY_MS = 86_400_000  # a day: EventSource takes any integer, but a longer wait is surely a typo
MAX_ROTATE_WAIT = 3600  # an hour: longer would hold a rotated file's descriptor (and disk space) for nothing
MAX_MULTILINE_WAIT = 60.0
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s)")


class ConfigError(Exception):
    """A configuration problem, reported to the operator as one line."""


def duration(value: Any, key: str) -> float:
    """Seconds, as a number or a string like "1s" or "500ms", above 0 and at most a minute."""
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.fullmatch(value.strip())):
        seconds = float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)
    elif isinstance(value, str):
        try:
            seconds = float(value)  # an environment variable or flag: "0.5"
        except ValueError:
            seconds = None
    if seconds is None or not 0 < seconds <= MAX_MULTILINE_WAIT:
        raise ConfigError(f"{key} must be a duration above 0 and at most {MAX_MULTILINE_WAIT:g}s "
                          f"(e.g. \"1s\", \"500ms\" or 0.5), got {value!r}")
    return seconds


@dataclass(frozen=True)
class LogSource:
    """A configured source: one named file, a glob whose matches become logs as they appear, or the journal."""

    name: str | None  # None for globs: each match is named after its file
    path: Path
    is_glob: bool = False
    parse: str = "auto"  # the parser of its lines (match/parsers/): a name or an RE2 pattern
    # Multi-line events (core/events.py): `python`, `java`, `indent`, `auto`, or a pattern of event starts.
    multiline: str | None = None
    multiline_start: str | None = None
    # Seconds an event still being written is held before it is sent as it is; None: the top-level
    # `multiline_wait` (config.resolve fills it in).
    multiline_wait: float | None = None
    # A journal log: journalctl's match arguments (`--unit=UNIT`, `FIELD=VALUE` ...; none: the whole journal).
    journal: tuple[str, ...] | None = None

    @property
    def multiline_spec(self) -> str | dict[str, str] | None:
        """What `core.events.rule_for` takes, or None for a log of single lines."""
        if self.multiline_start is not None:
            return {"start": self.multiline_start}
        return self.multiline


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
    window_total_lines: int = 500_000
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
    auth_proxy_sign_out: str | None = None
    metrics_users: tuple[str, ...] = ()
    users_table: tuple[tuple[str, Any], ...] = ()
    access: tuple[tuple[str, tuple[str, ...]], ...] = ()
    config_file: Path | None = None
    host_heartbeat: float = 10.0
    host_gone_after: float = 60.0
    host_hide_after: float = 604_800.0
    journal_directory: str | None = None  # journal sources read the files here, not the system journal

    @property
    def authenticates(self) -> bool:
        """Whether every request (but /healthz) names a user."""
        return bool(self.auth or self.users or self.users_table or self.auth_proxy_header)
