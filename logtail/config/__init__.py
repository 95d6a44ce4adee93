"""Configuration: one `Settings` value built once from a TOML file, `LOGTAIL_*` variables and flags.

Precedence is flag > environment > file > default, resolved per setting in `load.resolve()`. Anything wrong
(unknown key, bad value, duplicate log name, unreadable file) raises `ConfigError` with one line naming the
problem; the CLI prints it and exits with status 2.

The parts: `settings` (the values and their defaults), `options` (help, types and conversion of what an
operator sets), `sources` (which logs), `access` (who sees what), `validate` (checks across settings) and
`load` (the file, the environment and the flags put together). Callers import from here.
"""

from logtail.config.access import access_table, users_table
from logtail.config.load import resolve
from logtail.config.options import OPTIONS, SHIP_ONLY, SHIP_OPTIONS, default_of, help_text
from logtail.config.settings import NAME_RE, ConfigError, LogSource, Settings
from logtail.config.sources import parse_source

__all__ = ["NAME_RE", "OPTIONS", "SHIP_ONLY", "SHIP_OPTIONS", "ConfigError", "LogSource", "Settings", "access_table",
           "default_of", "help_text", "parse_source", "resolve", "users_table"]
