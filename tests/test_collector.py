"""The garbage collector's policy (logtail/core/collector.py): each full pass's survivors frozen, thawed now and
then so that cycles among them are freed; installed by a real server (its /metrics)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from logtail.core.collector import FreezeSurvivors
from tests.support import LogtailServer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Node:
    """An object that can be part of a cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def policy() -> Iterator[tuple[FreezeSurvivors, Clock]]:
    clock = Clock()
    survivors = FreezeSurvivors(thaw_after=10, clock=clock)
    gc.unfreeze()
    gc.callbacks.append(survivors)
    try:
        yield survivors, clock
    finally:
        gc.callbacks.remove(survivors)
        gc.unfreeze()


def test_a_full_pass_freezes_what_survived_it_and_a_young_pass_does_not(
        policy: tuple[FreezeSurvivors, Clock]) -> None:
    survivors, _ = policy
    gc.collect(1)
    assert gc.get_freeze_count() == 0 and survivors.full_passes == 0
    kept = [Node() for _ in range(100)]
    gc.collect()
    assert survivors.full_passes == 1
    assert gc.get_freeze_count() >= len(kept)


def test_a_cycle_among_frozen_objects_is_freed_by_the_full_pass_after_a_thaw(
        policy: tuple[FreezeSurvivors, Clock]) -> None:
    _, clock = policy
    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    gc.collect()  # a and b are alive: frozen
    del a, b  # now a garbage cycle, among frozen objects
    gc.collect()
    assert gone() is not None  # kept, as frozen
    clock.now = 11
    gc.collect()  # thaws (the survivors go back to the collector) ...
    assert gc.get_freeze_count() == 0
    gc.collect()  # ... and the next full pass frees the cycle
    assert gone() is None


def test_the_server_keeps_its_long_lived_objects_out_of_the_collectors_passes(
        serve_app_log: Callable[..., tuple[LogtailServer, Path]]) -> None:
    server, _ = serve_app_log()
    metrics = httpx.get(f"{server.url}/metrics", timeout=5).text
    frozen = next(line for line in metrics.splitlines() if line.startswith("logtail_gc_frozen_objects "))
    assert float(frozen.split()[1]) > 1000, frozen  # the modules and the app, frozen before serving
    assert 'python_gc_collections_total{generation="2"}' in metrics
