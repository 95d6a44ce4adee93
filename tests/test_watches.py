"""Watches end to end: a real `logtail serve` with [watches.*], a real HTTP receiver on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.receiver import Receiver
from tests.streams import append
from tests.support import LogtailServer, wait_for


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def config(tmp_path: Path, receiver: Receiver, watch: str = "", dest: str = "", extra: str = "") -> Path:
    (tmp_path / "app.log").touch()
    (tmp_path / "other.log").touch()
    path = tmp_path / "logtail.toml"
    watch = watch or 'threshold = 3\nwindow = "1m"'
    path.write_text(f"""
sources = ["app.log", "other.log"]
{extra}
[destinations.hook]
url = "{receiver.url}"
{dest}

[watches.errors]
logs = ["app*"]
q = "ERROR"
notify = ["hook"]
{watch}
""")
    return path



def watches(server: LogtailServer) -> dict[str, object]:
    (watch,) = httpx.get(f"{server.url}/api/watches", timeout=5).json()
    assert isinstance(watch, dict)
    return watch


def matches(server: LogtailServer, count: int) -> bool:
    return watches(server)["matches"] == count


def test_a_burst_above_threshold_alerts_once_below_does_not(
        tmp_path: Path, receiver: Receiver, start_server: Callable[..., LogtailServer]) -> None:
    server = start_server("--config", str(config(tmp_path, receiver)))
    log = tmp_path / "app.log"
    append(log, ["ERROR one", "INFO fine", "ERROR two"])
    append(tmp_path / "other.log", ["ERROR not watched"])
    wait_for(lambda: matches(server, 2), what="two matches")
    assert receiver.requests == []  # below the threshold: nothing sent
    append(log, ["ERROR three", "ERROR four"])
    wait_for(lambda: receiver.requests, what="an alert")
    (alert,) = receiver.alerts()
    # The batch that crossed the threshold is counted whole: every match since the last alert.
    assert alert["watch"] == "errors" and alert["count"] == 4
    assert [line["text"] for line in alert["lines"]] == ["ERROR one", "ERROR two", "ERROR three", "ERROR four"]
    wait_for(lambda: matches(server, 4), what="four matches")
    info = watches(server)
    assert info["state"] == "firing" and info["last_error"] is None
    assert info["last_alert"]["id"] == alert["id"]  # type: ignore[index]
    assert [a["id"] for a in info["recent_alerts"]] == [alert["id"]]  # type: ignore[attr-defined]
    levels = httpx.get(f"{server.url}/api/levels").json()["logs"]
    assert levels == {"app.log": {"error": 4, "info": 1}, "other.log": {"error": 1}}
    counts = httpx.get(f"{server.url}/api/watches/errors/counts", params={"since": "10m", "step": "1m"}).json()
    assert len(counts["counts"]) == 10 and sum(p["count"] for p in counts["counts"]) == 4
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'logtail_watch_matches_total{watch="errors"} 4.0' in metrics
    assert 'logtail_watch_alerts_total{destination="hook",outcome="sent",watch="errors"} 1.0' in metrics
    assert 'logtail_lines_total{level="info",log="app.log"} 1.0' in metrics
    assert 'logtail_lines_total{level="error",log="other.log"} 1.0' in metrics
    assert len(receiver.requests) == 1


def test_a_4xx_is_not_retried_and_is_the_last_error(
        tmp_path: Path, receiver: Receiver, start_server: Callable[..., LogtailServer]) -> None:
    receiver.status = 400
    server = start_server("--config", str(config(tmp_path, receiver, 'threshold = 1\ncooldown = "0s"')))
    append(tmp_path / "app.log", ["ERROR refused"])
    wait_for(lambda: watches(server)["last_error"], what="a last error")
    assert watches(server)["last_error"] == "hook: HTTP 400: refused with 400"
    assert receiver.attempts == 1
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'logtail_watch_alerts_total{destination="hook",outcome="failed",watch="errors"} 1.0' in metrics


def test_5xx_and_a_destination_down_are_retried_until_it_is_back(
        tmp_path: Path, receiver: Receiver, start_server: Callable[..., LogtailServer]) -> None:
    receiver.status = 500
    server = start_server("--config", str(config(tmp_path, receiver, 'threshold = 1\ncooldown = "0s"')))
    append(tmp_path / "app.log", ["ERROR first"])
    wait_for(lambda: receiver.attempts >= 2, what="a retry after a 500")
    receiver.stop()  # now down: connections refused
    append(tmp_path / "app.log", ["ERROR second"])
    wait_for(lambda: watches(server)["matches"] == 2 and "ConnectError" in str(watches(server)["last_error"]),
             timeout=20, what="the refused connection as last error")
    receiver.status = 200
    receiver.start()
    wait_for(lambda: len(receiver.requests) == 2, timeout=40, what="both alerts once it is back")
    assert [a["lines"][-1]["text"] for a in receiver.alerts()] == ["ERROR first", "ERROR second"]
    wait_for(lambda: watches(server)["last_error"] is None, what="the error cleared")


def test_test_endpoint_reports_what_each_destination_answered(
        tmp_path: Path, receiver: Receiver, start_server: Callable[..., LogtailServer]) -> None:
    server = start_server("--config", str(config(tmp_path, receiver)))
    answer = httpx.post(f"{server.url}/api/watches/errors/test", timeout=10).json()
    assert answer == {"name": "errors", "results": [{"destination": "hook", "ok": True, "status": 200,
                                                     "error": None}]}
    assert receiver.alerts()[0]["test"] is True
    assert httpx.post(f"{server.url}/api/watches/nope/test").status_code == 404


def test_hostile_line_content_in_a_template_stays_json(
        tmp_path: Path, receiver: Receiver, start_server: Callable[..., LogtailServer]) -> None:
    dest = """format = "template"\ntemplate = '{"text": "{{ lines[-1].text }}", "n": {{ count }}}'\n"""
    server = start_server("--config", str(config(tmp_path, receiver, "threshold = 1", dest)))
    hostile = 'ERROR "},"admin":true,"x":{"\\u0000 \x1b[31m </script>'
    append(tmp_path / "app.log", [hostile])
    wait_for(lambda: receiver.requests, what="the alert")
    assert receiver.alerts() == [{"text": hostile, "n": 1}]
    assert watches(server)["matches"] == 1


def test_the_watch_stream_is_its_filter_over_its_logs(
        tmp_path: Path, receiver: Receiver, start_server: Callable[..., LogtailServer]) -> None:
    server = start_server("--config", str(config(tmp_path, receiver, "threshold = 100")))
    append(tmp_path / "app.log", ["INFO a", "ERROR b", "ERROR c"])
    append(tmp_path / "other.log", ["ERROR elsewhere"])
    wait_for(lambda: matches(server, 2), what="matches")
    # The client's own stream parameters apply; its filter parameters cannot widen the watch's.
    with httpx.stream("GET", f"{server.url}/api/watches/errors/stream",
                      params={"format": "ndjson", "backlog": "10", "q": "", "log": "other.log"}, timeout=5) as resp:
        assert resp.status_code == 200
        texts: list[str] = []
        for line in resp.iter_lines():
            record = json.loads(line)
            if "text" in record:
                texts.append(record["text"])
            if len(texts) == 2:
                break
    assert texts == ["ERROR b", "ERROR c"]
    assert httpx.get(f"{server.url}/api/watches/nope/stream").status_code == 404


def test_lines_already_in_a_file_at_start_are_not_news(
        tmp_path: Path, receiver: Receiver, start_server: Callable[..., LogtailServer]) -> None:
    """The window is seeded from the files' last lines at start: those must not alert as if just written."""
    path = config(tmp_path, receiver, "threshold = 1")
    append(tmp_path / "app.log", ["ERROR from yesterday", "ERROR also old"])
    server = start_server("--config", str(path))
    append(tmp_path / "app.log", ["ERROR new"])
    wait_for(lambda: receiver.requests, what="the alert for the new line")
    assert [a["lines"][-1]["text"] for a in receiver.alerts()] == ["ERROR new"]
    assert watches(server)["matches"] == 1


def test_cli_lists_and_tests_watches_of_a_running_server(
        tmp_path: Path, receiver: Receiver, start_server: Callable[..., LogtailServer]) -> None:
    import subprocess
    import sys

    server = start_server("--config", str(config(tmp_path, receiver)))
    append(tmp_path / "app.log", ["ERROR one"])
    wait_for(lambda: matches(server, 1), what="a match")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "logtail", "watches", *args, "--url", server.url],
                              capture_output=True, text=True, timeout=60)

    listed = cli()
    assert listed.returncode == 0
    header, row = listed.stdout.splitlines()
    assert header.split()[:3] == ["WATCH", "STATE", "MATCHES"] and row.split()[:3] == ["errors", "ok", "1"]
    tested = cli("test", "errors")
    assert (tested.returncode, tested.stdout) == (0, "hook: ok (HTTP 200)\n")
    receiver.status = 400
    refused = cli("test", "errors")
    assert refused.returncode == 1 and "hook: FAILED: hook: HTTP 400" in refused.stdout
    missing = cli("test", "nope")
    assert missing.returncode == 1 and "HTTP 404" in missing.stderr
