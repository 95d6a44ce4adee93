"""`[watches.NAME]` and `[destinations.NAME]` from the TOML file, checked once at start.

A watch's filter keys are the stream parameters (q, regex, ignore_case, invert, level, field) and go through
the streams' own parser (`web.query.parse_filter`), so a watch accepts exactly what `/api/stream` accepts.
Every problem is a `ConfigError` naming the watch (or destination) and the key.

A header value may name an environment variable instead of holding a secret: `"Bearer ${TOKEN}"` is
expanded from the environment at start (a missing variable is a configuration error), and so is
`{ env = "TOKEN" }` (the whole value). The file then never holds the token.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from logtail.config import NAME_RE, ConfigError, LogSource
from logtail.match.filters import LineFilter
from logtail.web.query import QueryError, parse_filter

PayloadFormat = Literal["json", "slack", "discord", "ntfy", "template"]
FORMATS: tuple[str, ...] = get_args(PayloadFormat)
MAX_WINDOW = 86400.0  # the per-minute series covers a day: a longer window could not be counted
WATCH_KEYS = {"logs", "q", "regex", "ignore_case", "invert", "level", "field", "threshold", "window", "cooldown",
              "notify"}
DESTINATION_KEYS = {"url", "format", "template", "headers", "timeout"}
_DURATION = re.compile(r"(\d{1,9}(?:\.\d{1,6})?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class DestinationSpec:
    name: str
    url: str
    format: PayloadFormat = "json"
    template: str = ""
    headers: tuple[tuple[str, str], ...] = ()  # values already expanded from the environment
    timeout: float = 5.0


@dataclass(frozen=True)
class WatchSpec:
    name: str
    logs: tuple[str, ...]  # names or globs (fnmatch), matched against every log the server follows
    filter: LineFilter
    query: tuple[tuple[str, str], ...]  # the filter as stream parameters, for its live view
    threshold: int = 1
    window: float = 60.0
    cooldown: float = 0.0
    notify: tuple[str, ...] = ()

    def covers(self, log: str) -> bool:
        return any(fnmatch.fnmatchcase(log, pattern) for pattern in self.logs)


@dataclass(frozen=True)
class WatchConfig:
    watches: tuple[WatchSpec, ...] = ()
    destinations: tuple[DestinationSpec, ...] = field(default_factory=tuple)


def parse_duration(value: object, where: str) -> float:
    """`"0s"`, `"30s"`, `"10m"`, `"2h"`, `"1d"` (as `since=` writes them) in seconds."""
    m = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise ConfigError(f"{where} must be a duration like \"30s\", \"10m\", \"1h\", got {value!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_watch_config(data: Mapping[str, Any], sources: tuple[LogSource, ...], known_logs: set[str],
                       remote: bool, environ: Mapping[str, str]) -> WatchConfig:
    """The watches and destinations of a config file's data. `known_logs` are the log names the server will
    follow at start (named files and the current matches of globs); `remote`: logs NAME@HOST of other
    hosts may appear later (with --redis), so a pattern with `@` is taken on trust."""
    dests = _table(data, "destinations")
    destinations = tuple(parse_destination(name, body, environ) for name, body in dests.items())
    names = {d.name for d in destinations}
    watches = tuple(parse_watch(name, body, names, sources, known_logs, remote)
                    for name, body in _table(data, "watches").items())
    return WatchConfig(watches, destinations)


def _table(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    table = data.get(key, {})
    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        raise ConfigError(f"config: [{key}.NAME] must be tables, e.g. [{key}.errors]")
    for name in table:
        if not NAME_RE.fullmatch(name):
            raise ConfigError(f"{key[:-1]} {name!r}: name is not URL-safe (use 1-128 of A-Z a-z 0-9 . _ -)")
    return table


def parse_watch(name: str, body: dict[str, Any], destinations: set[str], sources: tuple[LogSource, ...],
                known_logs: set[str], remote: bool) -> WatchSpec:
    where = f"watch {name!r}"
    _known_keys(where, body, WATCH_KEYS)
    logs = _strings(body.get("logs"), f"{where}: logs")
    if not logs:
        raise ConfigError(f"{where}: logs must name at least one log or glob")
    for pattern in logs:
        _check_pattern(where, pattern, sources, known_logs, remote)
    line_filter, query = _filter(where, body)
    threshold = body.get("threshold", 1)
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 1:
        raise ConfigError(f"{where}: threshold must be a whole number of at least 1, got {threshold!r}")
    window = parse_duration(body.get("window", "1m"), f"{where}: window")
    if not 0 < window <= MAX_WINDOW:
        raise ConfigError(f"{where}: window must be longer than 0s and at most 1d")
    cooldown = parse_duration(body.get("cooldown", "0s"), f"{where}: cooldown")
    if cooldown > MAX_WINDOW:
        raise ConfigError(f"{where}: cooldown must be at most 1d")
    notify = _strings(body.get("notify", []), f"{where}: notify")
    for dest in notify:
        if dest not in destinations:
            raise ConfigError(f"{where}: notify: unknown destination {dest!r} (define it as [destinations.{dest}])")
    return WatchSpec(name, tuple(logs), line_filter, query, threshold, window, cooldown, tuple(notify))


def _check_pattern(where: str, pattern: str, sources: tuple[LogSource, ...], known_logs: set[str],
                   remote: bool) -> None:
    if any(fnmatch.fnmatchcase(log, pattern) for log in known_logs):
        return
    if "@" in pattern and remote:
        return  # logs of other hosts are discovered in Redis as they ship
    # A file glob source names its logs after files that may not exist yet: a pattern its names could match
    # (e.g. `app-*.log` for `/var/log/app-*.log`) is accepted.
    if any(src.is_glob and _could_overlap(pattern, src.path.name) for src in sources):
        return
    raise ConfigError(f"{where}: logs: {pattern!r} matches no log (known: {', '.join(sorted(known_logs)) or 'none'})")


def _could_overlap(pattern: str, file_glob: str) -> bool:
    return fnmatch.fnmatchcase(file_glob, pattern) or fnmatch.fnmatchcase(pattern, file_glob)


def _filter(where: str, body: dict[str, Any]) -> tuple[LineFilter, tuple[tuple[str, str], ...]]:
    single: dict[str, str] = {}
    for key in ("q", "regex"):
        if key in body:
            if not isinstance(body[key], str):
                raise ConfigError(f"{where}: {key} must be a string")
            single[key] = body[key]
    for key in ("ignore_case", "invert"):
        if key in body:
            if not isinstance(body[key], bool):
                raise ConfigError(f"{where}: {key} must be true or false")
            single[key] = "true" if body[key] else "false"
    levels = _strings(body.get("level", []), f"{where}: level")
    fields = _strings(body.get("field", []), f"{where}: field")
    try:
        line_filter = parse_filter(single, levels, fields)
    except QueryError as exc:
        raise ConfigError(f"{where}: {exc.detail}") from None
    query = (*single.items(), *(("level", v) for v in levels), *(("field", v) for v in fields))
    return line_filter, query


def parse_destination(name: str, body: dict[str, Any], environ: Mapping[str, str]) -> DestinationSpec:
    where = f"destination {name!r}"
    _known_keys(where, body, DESTINATION_KEYS)
    url = body.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: url must be an http:// or https:// URL")
    fmt = body.get("format", "json")
    if fmt not in FORMATS:
        raise ConfigError(f"{where}: format must be one of {', '.join(FORMATS)}")
    template = body.get("template", "")
    if fmt == "template":
        if not isinstance(template, str) or not template:
            raise ConfigError(f"{where}: template: format = \"template\" needs a Jinja2 template string")
        try:
            SandboxedEnvironment().from_string(template)
        except TemplateError as exc:
            raise ConfigError(f"{where}: template: {exc}") from None
    elif template:
        raise ConfigError(f"{where}: template is only used with format = \"template\"")
    headers = body.get("headers", {})
    if not isinstance(headers, dict):
        raise ConfigError(f"{where}: headers must be a table of name = value")
    expanded = tuple((str(k), _header_value(f"{where}: headers.{k}", v, environ)) for k, v in headers.items())
    timeout = parse_duration(body.get("timeout", "5s"), f"{where}: timeout")
    if not 0 < timeout <= 300:
        raise ConfigError(f"{where}: timeout must be longer than 0s and at most 5m")
    return DestinationSpec(name, url, fmt, template, expanded, timeout)


def _header_value(where: str, value: object, environ: Mapping[str, str]) -> str:
    if isinstance(value, dict) and set(value) == {"env"} and isinstance(value["env"], str):
        value = "${" + value["env"] + "}"
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string or {{ env = \"VARIABLE\" }}")

    def expand(m: re.Match[str]) -> str:
        if m.group(1) not in environ:
            raise ConfigError(f"{where}: environment variable {m.group(1)} is not set")
        return environ[m.group(1)]

    text = _ENV_REF.sub(expand, value)
    if "\r" in text or "\n" in text:
        raise ConfigError(f"{where}: a header value cannot contain a line break")
    return text


def _known_keys(where: str, body: dict[str, Any], known: set[str]) -> None:
    for key in body:
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(known))})")


def _strings(value: object, where: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise ConfigError(f"{where} must be a string or a list of strings")
    return items
