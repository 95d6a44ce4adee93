"""Which logs: a SOURCE string (`NAME=PATH:parse=nginx:multiline=python`), a `[logs.NAME]` table, or a
journal source, each turned into one `LogSource`."""

from __future__ import annotations

import glob
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from logtail.config.settings import NAME_RE, ConfigError, LogSource, duration
from logtail.core.events import rule_for
from logtail.match.parsers import ParserError, parser_for

JOURNAL = "journal"  # a source `journal`, `journal:UNIT` or `NAME=journal:FIELD=VALUE[,FIELD=VALUE]`
JOURNAL_FIELD_RE = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")  # journal field names: upper case, digits, underscores


# A SOURCE's options: `PATH:parse=SPEC:multiline=RULE:multiline_wait=DURATION`, in any order. A value runs to
# the next option, so an RE2 pattern may hold any other character; a path is everything before the first.
_OPTION = re.compile(r":(parse|multiline|multiline_wait)=")
START_PREFIX = "start:"  # `multiline=start:RE2`, the command line's form of {start = "RE2"}


def parse_source(spec: str, base: Path) -> LogSource:
    """`PATH`, `GLOB` or `NAME=PATH`, each optionally followed by options (`:parse=nginx`, `:multiline=python`,
    `:multiline_wait=500ms`), relative paths taken from `base`. Or a journal source (`journal_source`)."""
    journal = journal_source(spec)
    if journal is not None:
        return journal
    first = _OPTION.search(spec)
    path_part = spec if first is None else spec[:first.start()]
    options = _options(spec, spec[len(path_part):])
    origin = f"source {spec[:200]!r}"
    src = _path_source(path_part, base, check_parse(options.get("parse", "auto"), f"{origin}: parse"))
    if "multiline" in options:
        rule = options["multiline"]
        table: str | dict[str, Any] = ({"start": rule[len(START_PREFIX):]} if rule.startswith(START_PREFIX)
                                       else rule)
        return with_multiline(src, table, options.get("multiline_wait"), origin, ": ")
    if "multiline_wait" in options:
        raise ConfigError(f"{origin}: multiline_wait needs :multiline=")
    return src


def _options(spec: str, text: str) -> dict[str, str]:
    parts = _OPTION.split(text)[1:]  # name, value, name, value ...
    options: dict[str, str] = {}
    for name, value in zip(parts[::2], parts[1::2], strict=True):
        if name in options:
            raise ConfigError(f"source {spec[:200]!r}: :{name}= given twice")
        options[name] = value
    return options


def _path_source(spec: str, base: Path, parse: str) -> LogSource:
    name: str | None = None
    if "=" in spec and not spec.startswith(("/", ".")):
        name, _, spec = spec.partition("=")
        check_name(name)
    if not spec:
        raise ConfigError(f"source {name + '=' if name else ''}{spec!r}: empty path")
    path = Path(spec).expanduser()
    path = path if path.is_absolute() else base / path
    if glob.has_magic(spec):
        if name:
            raise ConfigError(f"source {name}={spec}: a glob cannot be given a name (matches are named by file)")
        return LogSource(None, path, is_glob=True, parse=parse)
    return LogSource(name or path.name, path, parse=parse)


def with_multiline(src: LogSource, multiline: Any, wait: Any, origin: str, sep: str = ".") -> LogSource:
    """`src` with its multi-line rule and wait, checked (ConfigError naming `origin`: `logs.NAME` or a SOURCE)."""
    try:
        rule_for(multiline)
    except ValueError as exc:
        raise ConfigError(f"{origin}{sep}multiline: {exc}") from None
    seconds = None if wait is None else duration(wait, f"{origin}{sep}multiline_wait")
    if isinstance(multiline, dict):
        return replace(src, multiline_start=multiline["start"], multiline_wait=seconds)
    return replace(src, multiline=multiline, multiline_wait=seconds)


def check_parse(spec: str, origin: str) -> str:
    """A parser's name or pattern, checked by building the parser (ConfigError naming `origin`)."""
    try:
        parser_for(spec)
    except ParserError as exc:
        raise ConfigError(f"{origin}: {exc}") from None
    return spec


def journal_source(spec: str) -> LogSource | None:
    """`journal` (the whole journal, named `journal`), `journal:UNIT` (one unit, named after it) or
    `NAME=journal[:UNIT | :FIELD=VALUE[,FIELD=VALUE...]]`; None for any other spec (a file: `./journal` is
    the file named journal). Matches combine as in journalctl: different fields must all match, the same
    field given twice matches either value."""
    name: str | None = None
    rest = spec
    if "=" in spec and not spec.startswith(("/", ".", f"{JOURNAL}:")):
        name, _, rest = spec.partition("=")
    if rest != JOURNAL and not rest.startswith(f"{JOURNAL}:"):
        return None
    what = rest[len(JOURNAL) + 1:]
    if rest == JOURNAL:
        matches: tuple[str, ...] = ()
        name = name or JOURNAL
    elif not what:
        raise ConfigError(f"source {spec!r}: name a unit (journal:UNIT) or matches (NAME=journal:FIELD=VALUE)")
    elif "=" not in what:
        matches, name = (f"--unit={what}",), name or what
    else:
        matches = tuple(_journal_match(spec, m) for m in what.split(","))
        if name is None:
            raise ConfigError(f"source {spec!r}: name a journal match, e.g. NAME={rest}")
    if not NAME_RE.fullmatch(name) or name in (".", ".."):
        raise ConfigError(f"source {spec!r}: log name {name!r} is not URL-safe (use 1-128 of A-Z a-z 0-9 . _ -); "
                          "name it with NAME=journal:...")
    return LogSource(name, Path(rest), journal=matches)


def _journal_match(spec: str, match: str) -> str:
    field, eq, _ = match.partition("=")
    if not eq or not JOURNAL_FIELD_RE.fullmatch(field):
        raise ConfigError(f"source {spec!r}: {match!r} is not a journal match FIELD=VALUE (FIELD in upper case, "
                          "e.g. _SYSTEMD_UNIT=nginx.service, PRIORITY=3)")
    return match


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name) or name in (".", ".."):
        raise ConfigError(f"log name {name!r} is not URL-safe (use 1-128 of A-Z a-z 0-9 . _ -)")
    return name


def check_sources(sources: tuple[LogSource, ...]) -> None:
    seen: dict[str, Path] = {}
    for src in sources:
        if src.is_glob:
            continue
        assert src.name is not None
        if src.name in seen:
            raise ConfigError(f"duplicate log name {src.name!r} ({seen[src.name]} and {src.path}); "
                              f"name one with NAME=PATH")
        seen[src.name] = src.path
        if src.journal is not None:
            continue
        if src.path.exists() and not os.access(src.path, os.R_OK):
            raise ConfigError(f"log {src.name!r}: {src.path} is not readable by this user")
        if src.path.is_dir():
            raise ConfigError(f"log {src.name!r}: {src.path} is a directory (use a glob like {src.path}/*.log)")


def file_sources(data: dict[str, Any], base: Path) -> list[LogSource]:
    """The config file's `sources = [...]` and `[logs]` tables."""
    specs = data.get("sources", [])
    if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
        raise ConfigError("config key 'sources' must be a list of strings")
    logs = data.get("logs", {})
    if not isinstance(logs, dict):
        raise ConfigError("config table [logs] must map names to path strings or tables")
    return [parse_source(s, base) for s in specs] + [_file_log(n, v, base) for n, v in logs.items()]


LOG_KEYS = ("path", "parse", "multiline", "multiline_wait")


def _file_log(name: str, value: Any, base: Path) -> LogSource:
    """`[logs] NAME = "PATH"`, or a table `[logs.NAME] path = ... parse = ...`."""
    if isinstance(value, str):
        return parse_source(f"{name}={value}", base)
    if not isinstance(value, dict):
        raise ConfigError(f"logs.{name} must be a path string or a table with path and parse")
    for key in value:
        if key not in LOG_KEYS:
            raise ConfigError(f"logs.{name}: unknown key {key!r} (use {', '.join(LOG_KEYS)})")
    path, parse = value.get("path"), value.get("parse", "auto")
    if not isinstance(path, str) or not path:
        raise ConfigError(f"logs.{name}.path must be a path string")
    if not isinstance(parse, str):
        raise ConfigError(f"logs.{name}.parse must be a string (a parser's name or an RE2 pattern)")
    if _OPTION.search(path):
        raise ConfigError(f"logs.{name}.path: give the options as keys of logs.{name} (parse, multiline, ...)")
    src = _path_source(f"{name}={path}", base, check_parse(parse, f"logs.{name}.parse"))
    if "multiline" not in value:
        if "multiline_wait" in value:
            raise ConfigError(f"logs.{name}.multiline_wait needs logs.{name}.multiline")
        return src
    return with_multiline(src, value["multiline"], value.get("multiline_wait"), f"logs.{name}")
