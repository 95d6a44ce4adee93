"""Command line: `logtail serve`, `logtail ship`, `logtail demo`, `logtail hosts`, `logtail watches`,
`logtail hash-password`.

The CLI only turns flags into `Settings` (see config/load.py for precedence) and runs the server; a bad
configuration is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from pathlib import Path

from logtail import __version__
from logtail.config import OPTIONS, SHIP_ONLY, SHIP_OPTIONS, ConfigError, Settings, default_of, help_text, resolve

EPILOG = """\
SOURCE is PATH, GLOB or NAME=PATH; a log is named after its file unless named explicitly. The systemd journal:
`journal` (all of it), `journal:UNIT` (one unit) or NAME=journal:FIELD=VALUE[,FIELD=VALUE] (journalctl matches).
Every option can also be set as LOGTAIL_<OPTION> (e.g. LOGTAIL_PORT=9000, LOGTAIL_SOURCES="app.log x=/y.log")
or in the TOML file given by --config (port = 9000, sources = [...], [logs] name = "path").
Precedence: flag, then environment, then config file, then default.
"""
SOURCE_HELP = "PATH, GLOB, NAME=PATH, journal, journal:UNIT or NAME=journal:FIELD=VALUE[,...]"

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="logtail", description="Follow log files and stream them over SSE.")
    parser.add_argument("--version", action="version", version=f"logtail {__version__}")
    # One line per command in `logtail --help` (at 80 columns): keep each help under ~50 characters.
    commands = parser.add_subparsers(dest="command", required=True, title="commands")

    serve_p = commands.add_parser("serve", help="follow log files and stream them over HTTP", epilog=EPILOG,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    serve_p.add_argument("sources", nargs="*", metavar="SOURCE", help=SOURCE_HELP)
    serve_p.add_argument("--config", type=Path, help="TOML configuration file")
    add_setting_flags(serve_p, [name for name in OPTIONS if name not in SHIP_ONLY])

    ship_p = commands.add_parser("ship", help="follow logs and append their lines to Redis streams",
                                 epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ship_p.add_argument("sources", nargs="*", metavar="SOURCE", help=SOURCE_HELP)
    ship_p.add_argument("--config", type=Path, help="TOML configuration file")
    add_setting_flags(ship_p, list(SHIP_OPTIONS))

    demo_p = commands.add_parser("demo", help="serve sample logs that a writer keeps appending to",
                                 description="Serve a live demo: sample logs with a writer appending lines.")
    for name in ("host", "port"):
        demo_p.add_argument(f"--{name}", type=OPTIONS[name][0], default=default_of(name), help=help_text(name))
    demo_p.add_argument("--rate", type=float, default=5.0, help="lines per second per log (default 5)")
    demo_p.add_argument("--many-hosts", action="store_true",
                        help="Redis, two shipping hosts and two nodes behind nginx (needs redis-server, nginx)")

    hosts_p = commands.add_parser("hosts", help="list the shipping hosts, or forget one",
                                  description="Print the shipping hosts as a running node sees them "
                                              "(GET /api/hosts), or forget a host in Redis.")
    hosts_p.add_argument("url", nargs="?", default="http://127.0.0.1:8000",
                         help="a running node's URL (default http://127.0.0.1:8000)")
    hosts_p.add_argument("--forget", metavar="HOST", help="remove HOST's streams and records from Redis")
    hosts_p.add_argument("--redis", help="Redis URL for --forget (default: LOGTAIL_REDIS)")

    from logtail.watches.cli import add_parser as add_watches_parser

    add_watches_parser(commands)
    commands.add_parser("hash-password", help="print a password hash for the auth setting",
                        description="Print a salted scrypt hash for `auth = \"user:<hash>\"`; the password is "
                                    "read from the terminal, or from the first line of stdin.")
    return parser


def add_setting_flags(parser: argparse.ArgumentParser, names: list[str]) -> None:
    for name in names:
        kind = OPTIONS[name][0]
        # default=None: a flag that was not given must not hide the environment or the config file.
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, default=None, help=help_text(name),
                            metavar=name.upper())


def settings_from_args(args: argparse.Namespace) -> Settings:
    flags = {name: getattr(args, name, None) for name in OPTIONS}
    return resolve(flags, args.sources, args.config, os.environ)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        # Each command imports what it runs, once its settings are good: a bad one fails fast, and `hosts`,
        # `watches` and `hash-password` do not load the server's stack (FastAPI, uvicorn).
        if args.command == "serve":
            settings = settings_from_args(args)
            _configure_logging(settings.log_level)
            from logtail.server import serve

            serve(settings)
        elif args.command == "ship":
            settings = settings_from_args(args)
            _configure_logging(settings.log_level)
            from logtail.ship.shipper import ship

            ship(settings)
        elif args.command == "demo":
            _configure_logging("info")
            if args.many_hosts:
                from logtail.demo_hosts import run_many_hosts_demo

                run_many_hosts_demo(args.host, args.port, args.rate)
            else:
                from logtail.demo import run_demo

                run_demo(args.host, args.port, args.rate)
        elif args.command == "hosts":
            from logtail import hoststable

            if args.forget:
                return hoststable.forget(args.redis or os.environ.get("LOGTAIL_REDIS"), args.forget)
            return hoststable.list_hosts(args.url)
        elif args.command == "watches":
            from logtail.watches.cli import run as run_watches

            return run_watches(args)
        elif args.command == "hash-password":
            from logtail.web.middleware.auth import hash_password

            password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
            if not password:
                raise ConfigError("empty password")
            print(hash_password(password))
    except ConfigError as exc:
        print(f"logtail: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def _configure_logging(level: str) -> None:
    if level.upper() not in logging.getLevelNamesMapping():
        raise ConfigError(f"log_level {level!r} is not one of debug, info, warning, error")
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
