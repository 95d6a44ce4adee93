"""Issue 21, finding 1: the cost of a request is decided before work is done. Hundreds of `field=k~...`
parameters with a pattern that is costly to compile once froze the event loop for 34 s; now repeats compile
once, counts are checked first, and compiling happens off the loop within a per-request budget.

Measured as `/healthz` latency on a real server while the attack runs, with a generous bound.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from starlette.requests import Request

from logtail.core import offloop
from logtail.match.fields import parse_field_filters
from logtail.match.patterns import CompileBudget, FilterError
from logtail.web.query import QueryError, check_stream
from logtail.web.routes import filter_query
from tests.streams import append
from tests.support import LogtailServer

HEAVY = r"k~\p{Han}{1000}"
HEALTHZ_BOUND = 0.5  # seconds: generous; the freeze this pins was 5 s at 200 copies, 34 s at 997


def attack_url(base: str, path: str, fields: list[str]) -> str:
    return str(httpx.URL(f"{base}{path}", params=[("field", f) for f in fields] + [("backlog", "0")]))


async def healthz_during(server: LogtailServer, attack: Callable[[httpx.AsyncClient], object]) -> float:
    """The slowest `/healthz` answer while `attack` runs (at least a few probes)."""
    worst = 0.0
    async with httpx.AsyncClient(timeout=30) as client:
        task = asyncio.ensure_future(attack(client))  # type: ignore[arg-type]
        probes = 0
        while not task.done() or probes < 5:
            t0 = time.monotonic()
            r = await client.get(f"{server.url}/healthz")
            assert r.status_code == 200
            worst = max(worst, time.monotonic() - t0)
            probes += 1
            await asyncio.sleep(0.01)
        await task
    return worst


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogtailServer]:
    """One server for the attacks: nothing compiled is kept from one request to the next, so each test meets
    the same server a fresh one would be."""
    logs = tmp_path_factory.mktemp("hostile-cost")
    append(logs / "a.log", ['{"k": "x"}'])
    server = LogtailServer([str(logs / "a.log")]).start(logs)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("path", ["/api/logs/a.log/stream", "/api/logs/a.log/search"])
async def test_many_costly_field_filters_do_not_freeze_the_loop(server: LogtailServer, path: str) -> None:
    """997 copies of a costly `field=k~...` on a stream (and 200 on a search), four requests at once, twice:
    each is answered (refused: the pattern is past RE2's memory budget) and `/healthz` stays fast."""
    copies = 997 if path.endswith("/stream") else 200
    url = attack_url(server.url, path, [HEAVY] * copies)

    async def attack(client: httpx.AsyncClient) -> None:
        answers = [r for _ in range(2) for r in await asyncio.gather(*(client.get(url) for _ in range(4)))]
        for r in answers:
            assert r.status_code == 400, r.text
            assert "field" in r.json()["detail"]

    worst = await healthz_during(server, attack)
    assert worst < HEALTHZ_BOUND, f"/healthz took {worst:.2f}s during the attack"


async def test_distinct_costly_patterns_stay_within_the_budget(server: LogtailServer) -> None:
    """Twenty distinct patterns that each compile (a few ms apiece), on many requests at once: the loop stays
    responsive, and every request gets an answer (a stream or a 400 naming `field`)."""
    fields = [f"k~\\p{{Han}}{{{60 + i}}}" for i in range(20)]
    url = attack_url(server.url, "/api/logs/a.log/stream", fields) + "&format=ndjson"

    async def attack(client: httpx.AsyncClient) -> None:
        async def one() -> None:
            async with client.stream("GET", url) as r:
                assert r.status_code in (200, 400)
        await asyncio.gather(*(one() for _ in range(4)))

    worst = await healthz_during(server, attack)
    assert worst < HEALTHZ_BOUND, f"/healthz took {worst:.2f}s during the attack"


def search_request(client: str, query: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/api/logs/a.log/search", "headers": [],
                    "query_string": query.encode(), "client": (client, 40000)})


async def test_a_search_compiles_its_patterns_in_the_heavy_pool() -> None:
    """A search compiled its patterns in anyio's default pool (a FastAPI sync dependency), outside the bound
    and the per-client limit of the heavy pool that streams compile in. Now, while a client's turn in the
    heavy pool is taken, its search with a pattern waits for it; one without a pattern, and another client's,
    do not."""
    gate = threading.Event()
    busy = asyncio.ensure_future(offloop.HEAVY.run("192.0.2.1", gate.wait))
    mine = asyncio.ensure_future(filter_query(search_request("192.0.2.1", "regex=err.r&field=k~v.")))
    try:
        plain = await asyncio.wait_for(filter_query(search_request("192.0.2.1", "q=error")), 10)
        other = await asyncio.wait_for(filter_query(search_request("192.0.2.2", "regex=err.r")), 10)
        assert (plain.q, other.regex) == ("error", "err.r")
        done, _ = await asyncio.wait([mine], timeout=0.5)
        assert not done, "the search compiled outside the heavy pool"
    finally:
        gate.set()
    await busy
    line_filter = await asyncio.wait_for(mine, 10)
    assert line_filter.regex == "err.r" and line_filter.matches('{"k": "vv", "m": "an error"}', None)


def test_repeats_are_dropped_before_the_count_is_checked_or_anything_compiled() -> None:
    """1,000 copies of one filter are one filter; 21 distinct ones are refused before any is compiled
    (an invalid pattern among them would otherwise be the error)."""
    assert len(parse_field_filters(["k~x"] * 1000)) == 1
    with pytest.raises(FilterError, match="at most 20"):
        parse_field_filters([f"k~x{i}" for i in range(20)] + ["k~("])
    query = "&".join([f"field=k~x{i}" for i in range(21)] + ["field=k~("]).encode()
    with pytest.raises(QueryError, match="at most 20") as info:
        check_stream(query, None, "a.log", _settings(), 0.0)
    assert info.value.status == 400


def test_a_spent_budget_refuses_the_rest() -> None:
    budget = CompileBudget(0.0)
    time.sleep(0)  # thread time moves with work, not waiting: burn a little
    sum(range(200_000))
    with pytest.raises(FilterError, match="cost too much to compile"):
        parse_field_filters(["k~a", "k~b"], budget)


def test_a_pattern_past_the_memory_budget_is_refused_with_its_parameter() -> None:
    with pytest.raises(FilterError, match=r"field: k~: pattern too large|field: k~: invalid regex"):
        parse_field_filters([HEAVY])


def _settings() -> object:
    from logtail.config import Settings

    return Settings()
