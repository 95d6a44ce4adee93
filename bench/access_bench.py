"""What access control costs a stream opening (issue 26): time to first byte of N streams opened at once by
clients of U different users, with users and [access] rules, against the same server without auth.

    .venv/bin/python bench/access_bench.py --clients 1000 --users 10 [--cold] [--rounds 3] [--sign-in proxy]

Each user reads its own log (rule `svcI*` = group gI). Every user signs in once before the burst (a browser
that has logged in): the burst measures the per-request cost (remembered credentials, the user's rules,
the audit line), not scrypt, which is paid once per user and bounded by design (docs/security.md). With
`--cold` the burst goes first, as if every client signed in at that moment (every browser reconnecting after
a restart). With `--sign-in proxy` the users are named by a proxy's headers (`--auth-proxy-header`, the
single sign-on set-ups) instead of Basic credentials: no password to check. Results: bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from server_process import HOST, ServerProcess

from logtail.web.middleware.auth import hash_password

PASSWORD = "bench-password"


async def first_byte(port: int, path: str, headers: str) -> tuple[float, int]:
    """Seconds from connecting to the status line, and the status; `headers` are CRLF-ended header lines."""
    start = time.monotonic()
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n{headers}\r\n".encode())
    line = await reader.readline()
    elapsed = time.monotonic() - start
    writer.close()
    return elapsed, int(line.split()[1]) if line else 0


def signed_in(user: int, sign_in: str) -> str:
    """The header lines that name user `u<user>` (of group `g<user>`) to the server."""
    if sign_in == "proxy":
        return f"X-Forwarded-User: u{user}\r\nX-Forwarded-Groups: g{user}\r\n"
    return f"Authorization: Basic {base64.b64encode(f'u{user}:{PASSWORD}'.encode()).decode()}\r\n"


async def burst(port: int, clients: int, users: int, sign_in: str | None, warm: bool) -> list[float]:
    if warm and sign_in:
        for u in range(users):
            await first_byte(port, f"/api/logs/svc{u}.log/stream?backlog=0", signed_in(u, sign_in))
    tasks = [first_byte(port, f"/api/logs/svc{i % users}.log/stream?backlog=0",
                        signed_in(i % users, sign_in) if sign_in else "") for i in range(clients)]
    results = await asyncio.gather(*tasks)
    bad = [status for _, status in results if status != 200]
    if bad:
        print(f"  {len(bad)} answers were not 200: {sorted(set(bad))}", file=sys.stderr)
    return sorted(t for t, _ in results)


def p(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def run(clients: int, users: int, warm: bool, rounds: int, sign_in: str) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, clients * 2 + 100)), hard))
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        logs = [str(d / f"svc{u}.log") for u in range(users)]
        for path in logs:
            Path(path).write_text("line\n")
        hashed = hash_password(PASSWORD)
        (d / "users").write_text("".join(f"u{u}:{hashed}:g{u}\n" for u in range(users)))
        rules = "".join(f'"svc{u}*" = ["group:g{u}"]\n' for u in range(users))
        users_from = (f'users = "{d / "users"}"\n' if sign_in == "basic" else
                      'auth_proxy_header = "X-Forwarded-User"\nauth_proxy_groups_header = "X-Forwarded-Groups"\n'
                      'forwarded_allow_ips = "127.0.0.1"\n')
        (d / "auth.toml").write_text(f"{users_from}[access]\n{rules}")
        (d / "open.toml").write_text("")
        p99s: dict[str, list[float]] = {"no auth": [], "users + rules": []}
        # The two servers alternate, round after round, so that both see the same machine.
        for _ in range(rounds):
            for label, config, by in (("no auth", "open.toml", None), ("users + rules", "auth.toml", sign_in)):
                server = ServerProcess("logtail", ["--config", str(d / config), *logs, "--max-clients",
                                                   str(clients * 2), "--log-level", "warning"],
                                       d / f"{label}.log", None)
                server.start()
                try:
                    times = asyncio.run(burst(server.port, clients, users, by, warm))
                finally:
                    server.stop()
                p99s[label].append(p(times, 0.99))
                print(f"{label:>14}: {clients} streams, {users} users: time to first byte "
                      f"p50 {p(times, 0.5) * 1000:.0f} ms, p99 {p(times, 0.99) * 1000:.0f} ms, "
                      f"max {times[-1] * 1000:.0f} ms")
        ratios = sorted(a / b for a, b in zip(p99s["users + rules"], p99s["no auth"], strict=True))
        print(f"p99 ratio (users + rules / no auth) per round: {', '.join(f'{r:.2f}' for r in ratios)}; "
              f"median {statistics.median(ratios):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--cold", action="store_true", help="no sign-in before the burst")
    parser.add_argument("--rounds", type=int, default=3, help="each server this many times, alternated")
    parser.add_argument("--sign-in", choices=("basic", "proxy"), default="basic",
                        help="users from a users file (Basic auth) or named by a proxy's headers")
    args = parser.parse_args()
    run(args.clients, args.users, warm=not args.cold, rounds=args.rounds, sign_in=args.sign_in)


if __name__ == "__main__":
    main()
