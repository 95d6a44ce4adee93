"""The hub's RE2 sets of every client's pattern (match/filters.RegexSet), in process: how long the event loop
is held when a new distinct filter arrives, and what a line costs to match against many patterns.

A set is built on the event loop, and RE2's wrapper holds the GIL while it compiles one, so the build time
is loop time. Compares, in the same run, one set of every pattern (as before issue 21's last round: RE2's
default 8 MiB memory, every pattern at once) with the chunked sets (a bounded chunk per build, the others
reused), for a few shapes of pattern at the caps (1,000 characters); then the per-line match cost.

    .venv/bin/python bench/regexset.py
"""

from __future__ import annotations

import random
import string
import time

import re2

from logtail.match.filters import LineFilter, RegexSet
from logtail.match.patterns import FilterError, re2_options

COUNT = 200


def shapes() -> dict[str, list[str]]:
    rng = random.Random(1)
    letters = string.ascii_letters

    def word(n: int) -> str:
        return "".join(rng.choice(letters) for _ in range(n))

    return {
        "literal 1,000 chars": [word(992) + str(i) for i in range(COUNT)],
        "alternation of 100 words": ["(" + "|".join(word(8) for _ in range(100)) + f"){i}" for i in range(COUNT)],
        r"\p{Han}{100}": [rf"\p{{Han}}{{100}}{i}" for i in range(COUNT)],
        "short": [f"error {i} in" for i in range(COUNT)],
    }


def one_set(patterns: list[str]) -> None:
    rset = re2.Set.SearchSet(re2_options(False, 8 << 20))
    for pattern in patterns:
        rset.Add(pattern)
    try:
        rset.Compile()
    except Exception:  # a failed build costs its time too: that is what is measured
        pass


def worst_chunked_build(filters: list[LineFilter]) -> tuple[float, int]:
    """The longest single build while the filters arrive one at a time (as clients connect), and builds."""
    worst, previous, builds = 0.0, None, 0
    for n in range(4, len(filters) + 1):
        while True:
            t0 = time.thread_time()
            try:
                previous = RegexSet(filters[:n], previous)
            except FilterError:
                previous = None
            worst = max(worst, time.thread_time() - t0)
            builds += 1
            if previous is None or not previous.pending:
                break
    return worst, builds


def main() -> None:
    print("build CPU time (the event loop is held for it); best of 3 for the one set")
    for name, patterns in shapes().items():
        filters = [LineFilter(regex=p) for p in patterns]
        one = min(_timed(one_set, patterns) for _ in range(3))
        worst, builds = worst_chunked_build(filters)
        print(f"  {name:26} one set of {COUNT}: {one * 1000:7.1f} ms   chunked, longest build: "
              f"{worst * 1000:5.1f} ms ({builds} builds as {COUNT} clients arrive)")
    lines = [f"2026-01-01 INFO request {i} served in 3 ms" for i in range(2000)]
    patterns = [f"request {i} served" for i in range(1000)]
    filters = [LineFilter(regex=p) for p in patterns]
    chunked: RegexSet | None = None
    while chunked is None or chunked.pending:
        chunked = RegexSet(filters, chunked)
    single = re2.Set.SearchSet(re2_options(False, 8 << 20))
    for p in patterns:
        single.Add(p)
    single.Compile()
    t_one = min(_timed(lambda: [single.Match(x.encode()) for x in lines]) for _ in range(3))
    t_chunks = min(_timed(lambda: [chunked.match(x) for x in lines]) for _ in range(3))  # type: ignore[union-attr]
    print(f"match, 1,000 patterns: one set {t_one / len(lines) * 1e6:.1f} us a line, "
          f"{len(chunked.chunks)} chunks {t_chunks / len(lines) * 1e6:.1f} us a line "
          f"(ratio {t_chunks / t_one:.1f})")


def _timed(fn: object, *args: object) -> float:
    """CPU time of the call (this thread's): the machine is shared, and wall time counts others' work."""
    t0 = time.thread_time()
    fn(*args)  # type: ignore[operator]
    return time.thread_time() - t0


if __name__ == "__main__":
    main()
