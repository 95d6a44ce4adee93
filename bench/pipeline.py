"""The per-line path without a server: a `FileFollower` on a real file, the `Hub` and one `Subscription`.

    .venv/bin/python bench/pipeline.py --fmt sse --hash                    # a hash of what the client got
    valgrind --tool=callgrind --callgrind-out-file=/dev/null .venv/bin/python bench/pipeline.py --fmt sse
    valgrind ... bench/pipeline.py --fmt sse --no-follow                   # the same writes, nothing read

Writes the benchmark's lines (bench/workload.py) `--batch` per `write()` after a first line of 300 bytes, and
reads each write to its end before the next, as `throughput-1` does. Instruction counts (callgrind's
"Collected") are steadier than CPU time on a shared machine: the difference between a run and its
`--no-follow` twin, divided by `--lines`, is the follower -> hub -> client cost per line. `--hash` (not for
counting: hashing costs per byte) compares what two versions of the server send (`PYTHONPATH=<checkout>`).
`--access` writes nginx access lines instead (bench/parsed_bench.py's), and `--parse nginx` gives the log
that parser: the per-line cost of a parsed log beside the same lines unparsed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
from pathlib import Path

from parsed_bench import access_line
from workload import format_line, make_payload

from logtail.core.hub import Hub
from logtail.core.subscription import Subscription
from logtail.match.filters import LineFilter
from logtail.match.parsers import parser_for
from logtail.sources.files.follow import FileFollower

TS_NS = 1_763_712_345_678_901_234


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fmt", choices=("sse", "text", "ndjson"), default="sse")
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--line-bytes", type=int, default=120)
    parser.add_argument("--no-follow", action="store_true", help="write only: the harness's own cost")
    parser.add_argument("--hash", action="store_true", help="print a sha256 of the bytes the client got")
    parser.add_argument("--access", action="store_true", help="nginx access lines instead of the workload's")
    parser.add_argument("--parse", default="auto", help="the log's parser (default auto: none)")
    args = parser.parse_args()
    payload = make_payload(args.line_bytes)
    line = access_line if args.access else lambda i: format_line(i, TS_NS + i, payload)
    writes = ["".join(line(i) for i in range(start, min(start + args.batch, args.lines))).encode()
              for start in range(0, args.lines, args.batch)]
    digest, received = hashlib.sha256(), 0
    with tempfile.TemporaryDirectory(prefix="logtail-pipeline-") as tmp:
        path = Path(tmp) / "bench.log"
        path.write_bytes(b"x" * 299 + b"\n")  # past the file's head, as a long-running log is
        hub = Hub(window_lines=10_000, queue_bytes=1 << 30)
        follower = FileFollower("bench.log", path, hub, max_line_bytes=65536, seed_lines=0, from_start=True,
                                parser=parser_for(args.parse))
        sub = Subscription(["bench.log"], LineFilter(), args.fmt, 1 << 30, multi=False)
        hub.subscribe(["bench.log"], sub)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            for chunk in [b"", *writes]:
                os.write(fd, chunk)
                while not args.no_follow and follower.step():
                    pass
                data = sub.take()
                received += len(data)
                if args.hash:
                    digest.update(data)
        finally:
            os.close(fd)
            follower.close()
    print(f"{args.fmt}: {args.lines} lines, {received} bytes" + (f", sha256 {digest.hexdigest()}" if args.hash else ""))


if __name__ == "__main__":
    main()
