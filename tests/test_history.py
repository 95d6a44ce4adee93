"""Download and search over whole log files and their rotated siblings, against a real server.

Downloads are compared byte for byte with the files. Search results are compared with a reference computed
here from the files' bytes (lines, ids, levels, line numbers, context), over a generated log of several MB
with rotated `app.log.1` and `app.log.2.gz`/`app.log.3.gz` siblings, in both orders and paged with
`before`/`after`. A 1 GB sparse file shows that memory stays flat, and dropped clients free their files.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest

from logtail.core.cursor import HEAD_BYTES, file_id
from logtail.core.lines import cut_at_char_boundary
from logtail.match.filters import LineFilter
from logtail.match.levels import detect_level
from tests.streams import rss_kb
from tests.support import LogtailServer, wait_for

CAP = 2048  # --max-line-bytes for the server: some generated lines are longer
GB = 1 << 30

# --- generated logs and the reference --------------------------------------------------------------


def generate(seed: int, count: int) -> bytes:
    """A log of `count` lines: mixed levels and spellings, CRLF, non-ASCII, invalid UTF-8, long and empty lines."""
    rnd = random.Random(seed)
    out = []
    for i in range(count):
        level = rnd.choice(["ERROR", "WARN", "INFO", "INFO", "DEBUG", "level=warn", "[error]", "notice", ""])
        word = rnd.choice(["timeout", "Timeout", "connected", "café", "STRASSE", "straße", "user=\u017fam", "ok"])
        end = "\r\n" if rnd.random() < 0.1 else "\n"
        line = f"2026-11-{seed:02d}T06:00:00.{i:06d}Z {level} worker-{i % 7} {word} id={i}"
        if rnd.random() < 0.01:
            line += " " + "x" * rnd.choice([CAP, 3 * CAP, 40 * CAP])
        if rnd.random() < 0.005:
            line = ""
        raw = (line + end).encode()
        if rnd.random() < 0.005:
            raw = b"\xff\xfe broken \xc3 timeout " + raw
        out.append(raw)
    return b"".join(out)


@dataclass
class Ref:
    label: str
    rotated: int
    index: int  # in `lines` of its file
    line: int
    text: str
    id: str
    level: str | None
    truncated: bool
    lines: list[Ref]


def reference_lines(data: bytes, label: str, rotated: int) -> list[Ref]:
    """The lines of a file as the stream sees them; a last line without newline counts only if rotated."""
    head = data[:HEAD_BYTES]
    pieces = data.split(b"\n")
    tail = pieces.pop()
    ends, pos = [], 0
    for piece in pieces:
        pos += len(piece) + 1
        ends.append(pos)
    if tail and rotated:
        pieces.append(tail)
        ends.append(len(data))
    lines: list[Ref] = []
    for i, (raw, end) in enumerate(zip(pieces, ends, strict=True)):
        raw = raw[:-1] if raw.endswith(b"\r") else raw
        truncated = len(raw) > CAP
        text = cut_at_char_boundary(raw, CAP).decode("utf-8", "replace")
        lines.append(Ref(label, rotated, i, i + 1, text, f"app.log={file_id(head, end)}:{end}", detect_level(text),
                         truncated, lines))
    return lines


def expected_hit(ref: Ref, context: int = 0) -> dict[str, Any]:
    hit: dict[str, Any] = {"log": "app.log", "text": ref.text, "id": ref.id, "level": ref.level}
    if ref.truncated:
        hit["truncated"] = True
    if ref.rotated:
        hit["file"] = ref.label
    hit["context_before"] = [r.text for r in ref.lines[max(0, ref.index - context) : ref.index]]
    hit["context_after"] = [r.text for r in ref.lines[ref.index + 1 : ref.index + 1 + context]]
    return hit


@dataclass
class Logs:
    dir: Path
    files: dict[str, bytes]  # file name -> content (decompressed)
    chain: list[list[Ref]]  # reference lines per file, oldest file first
    sparse: Path
    big: Path

    def path(self, name: str) -> Path:
        return self.dir / name

    def expected(self, params: dict[str, str]) -> list[Ref]:
        levels = frozenset(v for v in params.get("level", "").split(",") if v)
        flt = LineFilter(params.get("q", ""), params.get("regex", ""), bool(params.get("ignore_case")),
                         bool(params.get("invert")), levels)
        chain = self.chain if params.get("rotated") else self.chain[-1:]
        refs = [r for lines in chain for r in lines if flt.matches(r.text, r.level)]
        return refs[::-1] if params.get("order", "newest") == "newest" else refs


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Logs:
    d = tmp_path_factory.mktemp("logs")
    files = {
        # 1.8 to 5.3 MB each: every file is several of the search's 1 MB blocks (files/scan.py).
        "app.log.3.gz": generate(3, 4500),
        "app.log.2.gz": generate(2, 4500) + b"2026 last line of .2 without newline timeout",
        "app.log.1": generate(1, 10000) + b"2026 ERROR last line of .1 without newline timeout",
        "app.log": generate(4, 15000) + b"2026 ERROR a line being written timeout",
    }
    for name, data in files.items():
        (d / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    chain = [reference_lines(data, name, int(name.split(".")[2]) if name != "app.log" else 0)
             for name, data in files.items()]
    sparse = d / "sparse.log"
    with sparse.open("wb") as f:
        f.write(b"2026 INFO the first line\n")
        f.truncate(GB)
        f.seek(GB)
        f.write(b"\n2026 ERROR needle near the end\n2026 INFO the last line\n")
    big = d / "big.log"
    chunk = b"".join(f"2026 INFO worker-{i % 9} request served status=200 id={i}\n".encode() for i in range(20000))
    with big.open("wb") as f:
        for _ in range(64 * 1024 * 1024 // len(chunk)):
            f.write(chunk)
    return Logs(d, files, chain, sparse, big)


@pytest.fixture(scope="module")
def server(logs: Logs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogtailServer]:
    srv = LogtailServer([f"app.log={logs.path('app.log')}", f"sparse.log={logs.sparse}", f"big.log={logs.big}",
                         f"gone.log={logs.dir / 'gone.log'}", "--max-line-bytes", str(CAP)])
    srv.start(tmp_path_factory.mktemp("server"))
    yield srv
    srv.stop()


@pytest.fixture
def client(server: LogtailServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@dataclass
class Result:
    hits: list[dict[str, Any]]
    notices: list[dict[str, Any]]
    progress: list[dict[str, Any]]
    done: dict[str, Any]


def search(client: httpx.Client, log: str = "app.log", **params: Any) -> Result:
    with client.stream("GET", f"/api/logs/{log}/search", params=params) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"] == "application/x-ndjson"
        objects = [json.loads(line) for line in r.iter_lines() if line]
    result = Result([o for o in objects if "event" not in o], [o for o in objects if o.get("event") == "notice"],
                    [o for o in objects if o.get("event") == "progress"], objects[-1])
    assert result.done["event"] == "done" and len(objects) == len(result.hits) + len(result.notices) + len(
        result.progress) + 1
    assert result.done["matches"] == len(result.hits)
    return result


def without_lines(hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in h.items() if k != "line"} for h in hits]


# --- download --------------------------------------------------------------------------------------------

def test_download_whole_file_is_byte_exact(client: httpx.Client, logs: Logs) -> None:
    data = logs.path("app.log").read_bytes()
    r = client.get("/api/logs/app.log/download")
    assert r.status_code == 200
    assert r.content == data
    st = os.stat(logs.path("app.log"))
    assert r.headers["content-length"] == str(len(data))
    assert r.headers["content-disposition"] == 'attachment; filename="app.log"'
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["last-modified"] == formatdate(st.st_mtime, usegmt=True)
    assert r.headers["etag"].startswith('"') and client.get("/api/logs/app.log/download").headers["etag"] == \
        r.headers["etag"]


@pytest.mark.parametrize(("header", "start", "stop"), [
    ("bytes=0-0", 0, 1),
    ("bytes=1000-1999", 1000, 2000),
    ("bytes=123456-", 123456, None),
    ("bytes=-777", -777, None),
    ("bytes=-999999999", 0, None),
    ("bytes=5-999999999", 5, None),
])
def test_download_range_is_byte_exact(client: httpx.Client, logs: Logs, header: str, start: int,
                                      stop: int | None) -> None:
    data = logs.path("app.log").read_bytes()
    part = data[start:stop]
    first = start if start >= 0 else len(data) + start
    r = client.get("/api/logs/app.log/download", headers={"Range": header})
    assert r.status_code == 206
    assert r.content == part
    assert r.headers["content-length"] == str(len(part))
    assert r.headers["content-range"] == f"bytes {first}-{first + len(part) - 1}/{len(data)}"


@pytest.mark.parametrize("header", ["bytes={size}-", "bytes={size}-{end}", "bytes=-0"])
def test_unsatisfiable_range_is_416(client: httpx.Client, logs: Logs, header: str) -> None:
    size = logs.path("app.log").stat().st_size
    r = client.get("/api/logs/app.log/download", headers={"Range": header.format(size=size, end=size + 10)})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{size}"
    assert "not satisfiable" in r.json()["detail"]


@pytest.mark.parametrize("header", ["bytes=abc", "bytes=20-10", "items=0-5", "bytes=", "bytes=0-1,5-6", "0-10"])
def test_malformed_or_multiple_ranges_get_the_whole_file(client: httpx.Client, logs: Logs, header: str) -> None:
    r = client.get("/api/logs/app.log/download", headers={"Range": header})
    assert r.status_code == 200
    assert r.content == logs.path("app.log").read_bytes()
    assert "content-range" not in r.headers


def test_if_range(client: httpx.Client, logs: Logs) -> None:
    # A date validates only a file written more than a second before (run alone, the fixture just wrote it).
    wait_for(lambda: time.time() - logs.path("app.log").stat().st_mtime >= 1.05, 5, 0.05, "a second-old file")
    first = client.get("/api/logs/app.log/download", headers={"Range": "bytes=0-9"})
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    data = logs.path("app.log").read_bytes()

    def get(if_range: str) -> httpx.Response:
        return client.get("/api/logs/app.log/download", headers={"Range": "bytes=10-19", "If-Range": if_range})

    assert (get(etag).status_code, get(etag).content) == (206, data[10:20])
    assert (get('"stale"').status_code, get('"stale"').content) == (200, data)
    assert get("W/" + etag).status_code == 200  # If-Range needs a strong match
    assert get(modified).status_code == 206  # the file was written more than a second ago
    assert get("Thu, 01 Jan 2015 00:00:00 GMT").status_code == 200
    assert get("not a date").status_code == 200


def test_resume_like_curl_continue(client: httpx.Client, server: LogtailServer, logs: Logs, tmp_path: Path) -> None:
    """`curl -C -` asks for `bytes=<size of the partial file>-`; the two parts make the file."""
    data = logs.path("app.log").read_bytes()
    partial = tmp_path / "partial"
    with client.stream("GET", "/api/logs/app.log/download") as r:
        got = b""
        for chunk in r.iter_bytes():
            got += chunk
            if len(got) > 100_000:
                break
    partial.write_bytes(got)
    r = client.get("/api/logs/app.log/download", headers={"Range": f"bytes={len(got)}-"})
    assert r.status_code == 206
    assert got + r.content == data
    if shutil.which("curl"):
        partial.write_bytes(data[:54321])
        subprocess.run(["curl", "-sS", "-f", "-C", "-", "-o", str(partial), f"{server.url}/api/logs/app.log/download"],
                       check=True, timeout=30)
        assert partial.read_bytes() == data


def test_download_rotated_files(client: httpx.Client, logs: Logs) -> None:
    r = client.get("/api/logs/app.log/download", params={"rotated": 1})
    assert r.status_code == 200 and r.content == logs.path("app.log.1").read_bytes()
    assert r.headers["content-disposition"] == 'attachment; filename="app.log.1"'
    r = client.get("/api/logs/app.log/download", params={"rotated": 2}, headers={"Range": "bytes=-100"})
    gz = logs.path("app.log.2.gz").read_bytes()
    assert r.status_code == 206 and r.content == gz[-100:]
    assert r.headers["content-type"] == "application/gzip"
    assert r.headers["content-disposition"] == 'attachment; filename="app.log.2.gz"'
    assert client.get("/api/logs/app.log/download", params={"rotated": 9}).json() == {
        "detail": "log 'app.log' has no rotated file 9"}
    assert client.get("/api/logs/app.log/download", params={"rotated": 0}).status_code == 422


def test_rotated_listing(client: httpx.Client, logs: Logs) -> None:
    listed = client.get("/api/logs/app.log/rotated").json()
    assert [(x["name"], x["rotated"], x["compressed"]) for x in listed] == [
        ("app.log.1", 1, False), ("app.log.2.gz", 2, True), ("app.log.3.gz", 3, True)]
    assert [x["size"] for x in listed] == [logs.path(x["name"]).stat().st_size for x in listed]
    assert client.get("/api/logs/sparse.log/rotated").json() == []


def test_head_request(client: httpx.Client, logs: Logs) -> None:
    r = client.head("/api/logs/app.log/download")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-length"] == str(logs.path("app.log").stat().st_size)


def test_growing_file_is_served_up_to_its_size_at_start(tmp_path: Path) -> None:
    """A log written to during a download: the response is the file as it was when the request came."""
    log = tmp_path / "grow.log"
    original = b"".join(b"line %d of the original file\n" % i for i in range(200_000))
    log.write_bytes(original)
    with LogtailServer([str(log)]).start(tmp_path) as srv, httpx.Client(base_url=srv.url, timeout=30) as c:
        with c.stream("GET", "/api/logs/grow.log/download") as r:
            assert r.headers["content-length"] == str(len(original))
            chunks = r.iter_bytes()
            got = next(chunks)
            with log.open("ab") as f:
                f.write(b"appended during the download\n" * 100_000)
            got += b"".join(chunks)
        assert got == original
        r = c.get("/api/logs/grow.log/download", headers={"Range": f"bytes={len(original)}-"})
        assert r.status_code == 206 and r.content == b"appended during the download\n" * 100_000


def test_unknown_log_and_missing_file(client: httpx.Client) -> None:
    for path in ("download", "search", "rotated"):
        r = client.get(f"/api/logs/nope/{path}")
        assert (r.status_code, r.json()) == (404, {"detail": "unknown log 'nope'"})
    r = client.get("/api/logs/gone.log/download")
    assert r.status_code == 404 and "no file" in r.json()["detail"]
    result = search(client, "gone.log")
    assert [n["kind"] for n in result.notices] == ["missing"]
    assert result.hits == [] and result.done["truncated"] is False


# --- search -----------------------------------------------------------------------------------------------

FILTERS: list[dict[str, str]] = [
    {},
    {"q": "timeout"},
    {"q": "TIMEOUT", "ignore_case": "1"},
    {"q": "strasse", "ignore_case": "1"},  # casefold: also "straße"
    {"q": "SAM", "ignore_case": "1"},  # casefold: the long s (U+017F) is "s"
    {"regex": r"^2026\S+ (ERROR|\[error\])"},
    {"regex": r"id=\d*7$"},  # `$` before a CRLF
    {"regex": r"café|broken", "ignore_case": "1"},
    {"level": "error,warn"},
    {"level": "debug"},
    {"q": "timeout", "invert": "1", "level": "warn"},
    {"q": "xxxxxxxx"},  # only in long lines, and only in their first CAP bytes as far as filters see
]


def page_through(client: httpx.Client, params: dict[str, str], limit: int) -> list[dict[str, Any]]:
    """Every hit, a page of `limit` at a time, each page after the last id of the previous one."""
    key = "before" if params.get("order", "newest") == "newest" else "after"
    hits: list[dict[str, Any]] = []
    for _ in range(1000):
        page = search(client, **params, limit=limit, **({key: hits[-1]["id"]} if hits else {}))
        hits += page.hits
        if not page.done["truncated"]:
            return hits
        assert len(page.hits) == limit
    raise AssertionError("too many pages")


@pytest.mark.parametrize("rotated", ["", "1"])
@pytest.mark.parametrize("order", ["newest", "oldest"])
@pytest.mark.parametrize("params", FILTERS, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()) or "all")
def test_search_pages_reproduce_the_reference(client: httpx.Client, logs: Logs, params: dict[str, str], order: str,
                                              rotated: str) -> None:
    params = {**params, "order": order, **({"rotated": rotated} if rotated else {})}
    expected = logs.expected(params)
    limit = 10000 if len(expected) > 20000 else 997
    hits = page_through(client, params, limit)
    assert without_lines(hits) == [expected_hit(r) for r in expected]
    assert len(expected) > 0


def test_search_first_page_limit_and_truncated(client: httpx.Client, logs: Logs) -> None:
    expected = logs.expected({"q": "timeout"})
    page = search(client, q="timeout", limit=10)
    assert without_lines(page.hits) == [expected_hit(r) for r in expected[:10]]
    assert page.done["truncated"] is True
    assert page.done["scanned"] < page.done["total"] == logs.path("app.log").stat().st_size
    everything = search(client, q="timeout", limit=10000)
    assert len(everything.hits) == len(expected) and everything.done["truncated"] is False
    assert everything.done["scanned"] == everything.done["total"]


@pytest.mark.parametrize("order", ["newest", "oldest"])
@pytest.mark.parametrize("context", [1, 50])
def test_search_context_lines(client: httpx.Client, logs: Logs, order: str, context: int) -> None:
    """Context comes from the file around each hit, read around it (plain files) or kept while reading (gzip)."""
    params = {"q": "timeout", "level": "error", "order": order, "rotated": "1"}
    expected = logs.expected(params)
    result = search(client, **params, context=context, limit=10000)
    assert without_lines(result.hits) == [expected_hit(r, context) for r in expected]
    assert {r.label for r in expected} == set(logs.files)


def test_line_numbers_when_known(client: httpx.Client, logs: Logs) -> None:
    """Oldest-first from a file's start, and in gzip files (read from their start anyway), hits carry `line`."""
    params = {"q": "timeout", "rotated": "1"}
    for order in ("oldest", "newest"):
        refs = logs.expected({**params, "order": order})
        hits = search(client, **params, order=order, limit=10000).hits
        for hit, ref in zip(hits, refs, strict=True):
            if order == "oldest" or ref.label.endswith(".gz"):
                assert hit["line"] == ref.line, hit
            else:
                assert "line" not in hit


def test_ids_are_the_streams_ids(client: httpx.Client) -> None:
    """A search hit's id is the stream's id for the same line, so the page can page back from a live line."""
    with client.stream("GET", "/api/logs/app.log/stream", params={"format": "ndjson", "backlog": 5}) as r:
        streamed = []
        for line in r.iter_lines():
            streamed.append(json.loads(line))
            if len(streamed) == 5:
                break
    searched = search(client, limit=5).hits[::-1]
    assert [(s["id"], s["text"]) for s in streamed] == [(h["id"], h["text"]) for h in searched]
    older = search(client, limit=3, before=streamed[0]["id"]).hits
    assert older == search(client, limit=8).hits[5:]


def test_after_and_before_together_and_show_in_context(client: httpx.Client, logs: Logs) -> None:
    refs = logs.expected({"order": "oldest", "rotated": "1"})
    i, j = 10500, 10600  # the first in app.log.1, the second too
    hits = search(client, order="oldest", after=refs[i].id, before=refs[j].id, limit=1000).hits
    assert without_lines(hits) == [expected_hit(r) for r in refs[i + 1 : j]]
    # "Show in context": from the line before a hit, oldest first.
    match = next(r for r in refs[15000:] if "timeout" in r.text)
    k = refs.index(match)
    around = search(client, order="oldest", after=refs[k - 1].id, limit=5).hits
    assert without_lines(around) == [expected_hit(r) for r in refs[k : k + 5]]
    # Across files: after the last line of app.log.3.gz comes the first of app.log.2.gz.
    last_of_3 = logs.chain[0][-1]
    assert search(client, order="oldest", after=last_of_3.id, limit=1).hits[0]["id"] == logs.chain[1][0].id


def test_cursor_in_a_rotated_file_without_rotated(client: httpx.Client, logs: Logs) -> None:
    """The page's oldest line may be in a file rotated since: the cursor is still found (in app.log.1)."""
    one = logs.chain[2]
    hits = search(client, before=one[100].id, limit=1000).hits
    assert without_lines(hits) == [expected_hit(r) for r in one[:100][::-1]]


@pytest.mark.parametrize(("params", "status", "detail"), [
    ({"limit": 10001}, 422, "limit: must be between 1 and 10000 (page with before/after)"),
    ({"limit": 0}, 422, "limit: must be between 1 and 10000 (page with before/after)"),
    ({"context": 51}, 422, "context: must be between 0 and 50"),
    ({"level": "loud"}, 400, "level: unknown level 'loud' (use error, warn, info, debug)"),
    ({"before": "garbage"}, 400, "before: 'garbage' is not a cursor (expected the id of a line, "
                                 "NAME=<file id>:<offset>)"),
    ({"after": "app.log=0123456789ab:12,x"}, 400, "after: 'x' is not a cursor (expected the id of a line, "
                                                  "NAME=<file id>:<offset>)"),
    ({"after": "other.log=0123456789ab:12"}, 400, "after: the cursor is not one of log 'app.log'"),
    ({"before": "app.log=0123456789ab:12"}, 400,
     "before: no file of this log has that position (rotated away or truncated since?)"),
])
def test_search_bad_input(client: httpx.Client, params: dict[str, Any], status: int, detail: str) -> None:
    r = client.get("/api/logs/app.log/search", params=params)
    assert (r.status_code, r.json()) == (status, {"detail": detail})


def test_bad_regex_is_refused_as_by_the_stream(client: httpx.Client) -> None:
    searched = client.get("/api/logs/app.log/search", params={"regex": "(a"})
    streamed = client.get("/api/logs/app.log/stream", params={"regex": "(a"})
    assert searched.status_code == streamed.status_code == 400
    assert searched.json() == streamed.json()
    assert searched.json()["detail"].startswith("invalid regex:")


def test_multi_log_event_id_is_accepted_as_cursor(client: httpx.Client, logs: Logs) -> None:
    refs = logs.expected({})
    vector = f"big.log=0123456789ab:5,{refs[10].id}"
    assert search(client, before=vector, limit=2).hits == search(client, before=refs[10].id, limit=2).hits


@pytest.mark.slow
def test_progress_on_a_big_file(client: httpx.Client, logs: Logs) -> None:
    """Each line decoded and tested (an inverted regex has no shortcut): long enough for progress objects."""
    result = search(client, "big.log", regex="request", invert=1)
    assert result.hits == []
    assert result.progress, "no progress object"
    scanned = [p["scanned"] for p in result.progress]
    assert scanned == sorted(scanned) and all(p["total"] == logs.big.stat().st_size for p in result.progress)
    assert result.done == {"event": "done", "matches": 0, "scanned": logs.big.stat().st_size,
                           "total": logs.big.stat().st_size, "truncated": False}


# --- a 1 GB file: flat memory, and clients that leave ---------------------------------------------------

def fds_on(pid: int, *paths: Path) -> int:
    """Descriptors of the server process open on any of `paths`."""
    targets = {str(p) for p in paths}
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}") in targets
        except OSError:
            continue  # closed meanwhile
    return count


@pytest.mark.slow
def test_one_gigabyte_file_with_flat_memory(client: httpx.Client, server: LogtailServer, logs: Logs) -> None:
    assert server.proc is not None
    pid = server.proc.pid
    size = logs.sparse.stat().st_size
    search(client, "sparse.log", q="warm up", limit=1)
    before = rss_kb(pid)
    peak = before
    started = time.monotonic()
    with client.stream("GET", "/api/logs/sparse.log/download") as r:
        total, tail = 0, b""
        for i, chunk in enumerate(r.iter_bytes()):
            total += len(chunk)
            tail = (tail + chunk)[-100:]
            if i % 64 == 0:
                peak = max(peak, rss_kb(pid))
    assert total == size and tail.endswith(b"\n2026 ERROR needle near the end\n2026 INFO the last line\n")
    for order in ("newest", "oldest"):
        result = search(client, "sparse.log", q="needle", order=order)
        assert [h["text"] for h in result.hits] == ["2026 ERROR needle near the end"]
        assert result.done["scanned"] == result.done["total"] == size
        peak = max(peak, rss_kb(pid))
    result = search(client, "sparse.log", regex="ERROR.*needle")
    assert [h["text"] for h in result.hits] == ["2026 ERROR needle near the end"]
    nul_line = search(client, "sparse.log", order="oldest", limit=2).hits[1]
    assert nul_line["truncated"] is True and nul_line["text"] == "\0" * CAP
    peak = max(peak, rss_kb(pid))
    elapsed = time.monotonic() - started
    assert peak - before < 40_000, f"server RSS grew from {before} kB to {peak} kB"
    print(f"1 GB: download and 4 searches in {elapsed:.1f}s, RSS {before} -> {peak} kB")


def test_disconnect_mid_download_frees_the_file(server: LogtailServer, logs: Logs) -> None:
    assert server.proc is not None
    pid = server.proc.pid
    # The follower's descriptor only (a previous request's may still be closing: `done` is sent first).
    wait_for(lambda: fds_on(pid, logs.sparse) == 1, 5, what="only the follower's descriptor")
    baseline = 1
    with httpx.Client(base_url=server.url, timeout=30) as c, c.stream("GET", "/api/logs/sparse.log/download") as r:
        chunks = r.iter_bytes()  # kept: httpx closes the connection when the iterator is collected
        next(chunks)
        assert fds_on(pid, logs.sparse) == baseline + 1
    wait_for(lambda: fds_on(pid, logs.sparse) == baseline, 5, what="the download's file to be closed")


def test_disconnect_mid_search_frees_the_files(server: LogtailServer, logs: Logs) -> None:
    assert server.proc is not None
    pid = server.proc.pid
    wait_for(lambda: fds_on(pid, logs.big) == 1, 5, what="only the follower's descriptor")
    baseline = 1
    with httpx.Client(base_url=server.url, timeout=30) as c, \
            c.stream("GET", "/api/logs/big.log/search", params={"regex": "request", "invert": 1}) as r:
        lines = r.iter_lines()  # kept: httpx closes the connection when the iterator is collected
        first = json.loads(next(lines))
        assert first["event"] == "progress" and first["scanned"] < first["total"]
        assert fds_on(pid, logs.big) == baseline + 1
    wait_for(lambda: fds_on(pid, logs.big) == baseline, 5, what="the search's file to be closed")
    # Also with every rotated sibling open (held for the whole search).
    rotated = [logs.path(name) for name in ("app.log.1", "app.log.2.gz", "app.log.3.gz")]
    wait_for(lambda: fds_on(pid, *rotated) == 0, 5, what="no descriptor on the rotated files")
    with httpx.Client(base_url=server.url, timeout=30) as c, \
            c.stream("GET", "/api/logs/app.log/search", params={"q": "timeout", "invert": 1, "rotated": 1,
                                                                 "limit": 10000, "context": 50}) as r:
        lines = r.iter_lines()
        next(lines)
        assert fds_on(pid, *rotated) == 3
    wait_for(lambda: fds_on(pid, *rotated) == 0, 5, what="the search's files to be closed")
