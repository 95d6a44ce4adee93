"""Building `Settings` once from a TOML file, `LOGTAIL_*` variables and flags.

Precedence is flag > environment > file > default, resolved per setting in `resolve()`.
"""

from __future__ import annotations

import glob
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from logtail.config.access import access_table, users_table
from logtail.config.options import OPTIONS, convert, default_of
from logtail.config.settings import ConfigError, LogSource, Settings
from logtail.config.sources import check_sources, file_sources, parse_source
from logtail.config.validate import validate


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


def _log_names(sources: list[LogSource]) -> set[str]:
    """The names of the logs followed at start: named files, and the files globs match now."""
    names = {src.name for src in sources if src.name is not None}
    for src in sources:
        if src.is_glob:
            names.update(Path(p).name for p in glob.glob(str(src.path)))
    return names


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
