"""schemathesis against the OpenAPI schema of a real running server: no generated request gets a 5xx.

Streams never end, so for them only the status line is read (the request is sent as schemathesis built it,
then the connection is dropped); a stream that opened is answered 200 with a streaming content type.
Half of the generated log names are replaced by a configured one, so that the fuzzer reaches the code
behind the 404 as well.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.streams import append
from tests.support import LogtailServer

STREAM_TYPES = ("text/event-stream", "text/plain", "application/x-ndjson")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogtailServer]:
    d = tmp_path_factory.mktemp("schema")
    logs = d / "logs"
    logs.mkdir()
    append(logs / "app.log", [f"line {i} ERROR and INFO ünïcode" for i in range(50)])
    append(logs / "other.log", ["other"])
    s = LogtailServer([str(logs / "app.log"), str(logs / "other.log"), "--heartbeat", "1"]).start(d)
    try:
        yield s
    finally:
        s.stop()


def aim_at_a_real_log(case: Any) -> None:
    params = case.path_parameters or {}
    if "name" in params and zlib.crc32(repr(params["name"]).encode()) % 2 == 0:
        params["name"] = "app.log"
    query = case.query or {}
    if isinstance(query.get("log"), list) and query["log"] and zlib.crc32(repr(query).encode()) % 2 == 0:
        query["log"] = ["app.log", *query["log"][1:]]


def check_case(case: Any, base_url: str) -> None:
    aim_at_a_real_log(case)
    if case.path.endswith("stream"):
        kwargs = case.as_transport_kwargs(base_url=base_url)
        with requests.request(**kwargs, stream=True, timeout=10) as r:
            assert r.status_code < 500, (r.status_code, kwargs)
            if r.status_code == 200:
                assert r.headers["content-type"].startswith(STREAM_TYPES)
        return
    case.call_and_validate(base_url=base_url, checks=[not_a_server_error], timeout=10)


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_generated_request_gets_a_server_error(server: LogtailServer, mode: GenerationMode) -> None:
    """Every operation of /openapi.json, with valid and with invalid generated inputs: never a 5xx.

    (The schemathesis pytest loader, `from_fixture`, does not run under this pytest; the operations'
    hypothesis strategies are driven directly instead.)"""
    api = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert any(op.path == "/api/logs/{name}/stream" for op in operations)
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any) -> None:
            check_case(case, server.url)

        try:
            run()
        except Unsatisfiable:  # no parameters to make invalid (healthz, metrics, the log list)
            assert mode == GenerationMode.NEGATIVE


def test_schema_lists_the_streams(server: LogtailServer) -> None:
    paths = requests.get(f"{server.url}/openapi.json", timeout=5).json()["paths"]
    assert {"/api/logs/{name}/stream", "/api/stream", "/api/logs", "/healthz"} <= set(paths)


@pytest.mark.parametrize("query", [
    "backlog=-1", "backlog=abc", "backlog=100001", "backlog=99999999999999999999999", "format=xml",
    "ignore_case=maybe", "invert=2", "level=fatal", "regex=(", "regex=" + "a" * 1001, "q=" + "q" * 1001,
    "last_event_id=" + "x" * 70000, "regex=%FF%FE", "q=%00", "regex=a{1001}",
])
@pytest.mark.parametrize("route", ["/api/logs/app.log/stream", "/api/stream?log=app.log"])
def test_stream_bad_parameters_are_4xx(server: LogtailServer, route: str, query: str) -> None:
    sep = "&" if "?" in route else "?"
    with requests.get(f"{server.url}{route}{sep}{query}", stream=True, timeout=10) as r:
        if r.status_code == 200:  # some values are acceptable (NUL in q, bytes that decode to U+FFFD)
            assert query.startswith(("q=%00", "regex=%FF")), (query, r.status_code)
        else:
            assert 400 <= r.status_code < 500, (query, r.status_code, r.text[:200])
            name = query.split("=")[0]
            # A 70 kB URL is refused by the HTTP parser itself (400 "Invalid HTTP request") before any route.
            assert name in r.text or len(query) > 65536, (query, r.text[:300])


def test_garbage_last_event_id_header_is_ignored(server: LogtailServer, tmp_path: Path) -> None:
    for value in ("garbage", "app.log=zzzz:1", "app.log=000000000000:99999999999999999999", "," * 1000,
                  "app.log=000000000000:1," * 3000):
        with requests.get(f"{server.url}/api/logs/app.log/stream?backlog=1", stream=True, timeout=10,
                          headers={"Last-Event-ID": value}) as r:
            assert r.status_code == 200
