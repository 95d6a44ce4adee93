"""`logtail watches` and `logtail watches test NAME`: the watches of a running server, over its HTTP API."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from typing import Any, TextIO

DEFAULT_URL = "http://127.0.0.1:8000"


def add_parser(commands: Any) -> None:
    p = commands.add_parser("watches", help="list the watches of a running server, or test one",
                            description="List the watches of a running server with their state, or send a "
                                        "test alert to a watch's destinations (`logtail watches test NAME`).")
    p.add_argument("action", nargs="?", choices=["list", "test"], default="list")
    p.add_argument("name", nargs="?", help="the watch to test")
    p.add_argument("--url", default=os.environ.get("LOGTAIL_URL", DEFAULT_URL),
                   help=f"the server's URL, root path included (default $LOGTAIL_URL or {DEFAULT_URL})")
    p.add_argument("--auth", default=os.environ.get("LOGTAIL_AUTH"), metavar="USER:PASSWORD",
                   help="HTTP Basic credentials (default $LOGTAIL_AUTH)")


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Exit status 0, or 1 when the server cannot be asked or a test alert was not accepted."""
    import httpx  # here: `logtail --help` and `serve` need none of it

    user, _, password = (args.auth or "").partition(":")
    auth = (user, password) if args.auth else None
    base = args.url.rstrip("/")
    try:
        with httpx.Client(auth=auth, timeout=30) as client:
            if args.action == "test":
                if not args.name:
                    print("logtail: error: logtail watches test NAME: give the watch's name", file=sys.stderr)
                    return 2
                response = client.post(f"{base}/api/watches/{args.name}/test")
                response.raise_for_status()
                return _print_test(response.json(), out)
            response = client.get(f"{base}/api/watches")
            response.raise_for_status()
            _print_list(response.json(), out)
            return 0
    except httpx.HTTPStatusError as exc:
        detail = exc.response.text[:300]
        print(f"logtail: error: {exc.request.url}: HTTP {exc.response.status_code}: {detail}", file=sys.stderr)
    except httpx.HTTPError as exc:
        print(f"logtail: error: {base}: {exc}", file=sys.stderr)
    return 1


def _print_list(watches: list[dict[str, Any]], out: TextIO) -> None:
    if not watches:
        print("no watches", file=out)
        return
    print(f"{'WATCH':20} {'STATE':9} {'MATCHES':>8}  {'LAST ALERT':19}  LAST ERROR", file=out)
    for w in watches:
        last = w["last_alert"]
        when = datetime.fromtimestamp(last["at"]).strftime("%Y-%m-%d %H:%M:%S") if last else "-"
        print(f"{w['name']:20} {w['state']:9} {w['matches']:>8}  {when:19}  {w['last_error'] or '-'}", file=out)


def _print_test(answer: dict[str, Any], out: TextIO) -> int:
    failed = 0
    for result in answer["results"]:
        if result["ok"]:
            print(f"{result['destination']}: ok (HTTP {result['status']})", file=out)
        else:
            failed += 1
            print(f"{result['destination']}: FAILED: {result['error']}", file=out)
    if not answer["results"]:
        print(f"watch {answer['name']} notifies no destination", file=out)
    return 1 if failed else 0
