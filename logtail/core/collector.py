"""How the server uses Python's garbage collector: long-lived objects are kept out of its full passes.

The hub's windows hold every recent line of every log as objects the collector tracks (a `Line`, its block):
a node serving 1,000 shipped logs holds hundreds of thousands of them after a minute. CPython's collector
runs a full pass, over every tracked object, each time a quarter more objects have survived into its oldest
generation, and holds the GIL throughout: on such a node passes took 470-730 ms, every few seconds, a
stall for every stream (bench/RESULTS.md, issue 23). Reference counting frees lines leaving the window
anyway (they hold no cycles); what the full passes are for is cyclic garbage, which is rare and small.

So after each full pass, everything that survived it (live, since the pass has just freed the garbage) is
frozen (`gc.freeze`): later passes skip it, and each full pass looks only at what survived since the last.
A frozen object that later becomes part of a garbage cycle is kept: a closed stream's connection objects
(uvicorn's hold cycles) once they had lived through a full pass, a few kilobytes each. So every `THAW_AFTER`
seconds the frozen objects are handed back (`gc.unfreeze`) and the next full pass looks at everything once,
freeing those: one long pass every ten minutes, in place of one every few seconds.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

OLDEST = 2  # the generation of a full pass
THAW_AFTER = 600.0  # seconds between full passes over everything (a frozen object's cycles are freed then)


class FreezeSurvivors:
    """The `gc.callbacks` entry that freezes what survives each full pass, and thaws it now and then."""

    def __init__(self, thaw_after: float = THAW_AFTER, clock: Callable[[], float] = time.monotonic) -> None:
        self.thaw_after = thaw_after
        self.clock = clock
        self.thawed_at = clock()
        self.full_passes = 0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop" or info["generation"] != OLDEST:
            return
        self.full_passes += 1
        now = self.clock()
        if now - self.thawed_at >= self.thaw_after:
            self.thawed_at = now
            gc.unfreeze()  # the next full pass goes through everything, frozen cycles included
            return
        gc.freeze()


def install(policy: FreezeSurvivors | None = None) -> FreezeSurvivors:
    """Freeze what the process holds once started (modules, the app), and every full pass's survivors from
    now on. Once per process, before it serves."""
    policy = policy or FreezeSurvivors()
    gc.collect()
    gc.freeze()
    if policy not in gc.callbacks:
        gc.callbacks.append(policy)
    return policy
