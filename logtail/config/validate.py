"""The checks across the whole configuration, defaults included, once every setting has its value."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from logtail.config.access import validate_access
from logtail.config.settings import MAX_RETRY_MS, MAX_ROTATE_WAIT, WATCHERS, ConfigError, Settings


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
    for name in ("max_clients", "window_lines", "window_total_lines", "max_line_bytes", "queue_bytes", "workers",
                 "page_max_lines", "redis_maxlen"):
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
    validate_access(s)


def _check_range(name: str, value: float, low: float, high: float | None, high_name: str | None = None) -> None:
    if not (value >= low and (high is None or value <= high)):  # also refuses nan
        if high is None:
            raise ConfigError(f"{name} must be at least {low}")
        raise ConfigError(f"{name} must be between {low} and {high_name or high}")
