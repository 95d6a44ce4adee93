"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright, against real servers.

Each test starts `logtail serve` on a free port, opens the page with a permalink (`#log=...`), appends to
the log files and checks what the page shows. No tool downloads a browser: a missing /usr/bin/chromium is
a skip on a developer's machine (with the command to install it) and a failure in CI.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser_support import (
    LAST_TEXT_IS_JS,
    browser,
    open_dashboard,
    page,
    serve,
    stream_requests,
    texts,
    wait_last,
)
from tests.streams import append
from tests.support import LogtailServer, free_port

__all__ = ["browser", "page", "serve"]  # fixtures used here by name

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).parent / "artifacts"


class PrefixStrippingProxy:
    """What nginx's `location /prefix/ { proxy_pass http://upstream/; }` does, for GET requests only: strips
    the prefix from each request line, streams both directions unbuffered, and answers 502 while the
    upstream is down."""

    def __init__(self, upstream_port: int, prefix: str) -> None:
        self.upstream_port = upstream_port
        self.prefix = prefix.encode()
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.handlers: set[asyncio.Task[None]] = set()
        self.clients: set[asyncio.StreamWriter] = set()
        self.pipes: set[asyncio.Future[None]] = set()

    def __enter__(self) -> PrefixStrippingProxy:
        self.thread.start()
        start = asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.server = asyncio.run_coroutine_threadsafe(start, self.loop).result(5)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        async def shutdown() -> None:
            self.server.close()
            for client in self.clients:
                client.close()
            for pipe in self.pipes:
                pipe.cancel()
            await asyncio.wait_for(asyncio.gather(*self.handlers, return_exceptions=True), 5)

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        self.clients.add(writer)
        try:
            await self.serve_connection(reader, writer)
        finally:
            writer.close()
            self.clients.discard(writer)
            self.handlers.discard(task)

    async def serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")  # GET requests: no bodies
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            # Upstream down (a restart): answer like nginx; this closes an EventSource for good.
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n"
                         b"Content-Length: 11\r\nConnection: close\r\n\r\nBad Gateway")
            return
        pipes = {asyncio.ensure_future(self.requests(head, reader, up_writer)),
                 asyncio.ensure_future(self.responses(up_reader, writer))}
        self.pipes |= pipes
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            self.pipes -= pipes
            up_writer.close()

    def rewrite(self, head: bytes) -> bytes:
        method, target, rest = head.split(b" ", 2)
        if self.prefix and target.startswith(self.prefix + b"/"):
            target = target[len(self.prefix):]
        return b" ".join([method, target, rest])

    async def requests(self, head: bytes, reader: asyncio.StreamReader, up: asyncio.StreamWriter) -> None:
        while True:
            up.write(self.rewrite(head))
            await up.drain()
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return

    async def responses(self, up: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await up.read(65536):
            writer.write(data)
            await writer.drain()


def write_at_rate(path: Path, rate: int, seconds: float) -> list[str]:
    """Append numbered lines at `rate` lines/s for `seconds` (in 10 ms batches); return them."""
    total = int(rate * seconds)
    lines = [f"2024-05-01 12:00:00 {'ERROR' if i % 50 == 0 else 'INFO'} request {i:05d} "
             f"\x1b[32mok\x1b[0m path=/api/v1/items/{i} took={i % 97}ms" for i in range(1, total + 1)]
    written = 0
    start = time.monotonic()
    with path.open("a", encoding="utf-8") as f:
        while written < total:
            due = min(total, int((time.monotonic() - start) * rate))
            f.write("".join(f"{line}\n" for line in lines[written:due]))
            f.flush()
            written = due
            time.sleep(0.01)
    return lines


def test_lines_appended_to_a_file_arrive_live(page: Page, serve: Callable[..., LogtailServer],
                                              tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, ["old 1", "old 2"])
    server = serve(str(log))
    open_dashboard(page, server, "log=app.log")
    wait_last(page, "old 2")

    append(log, ["new 1", "new 2", "new 3"])

    wait_last(page, "new 3")
    assert texts(page) == ["old 1", "old 2", "new 1", "new 2", "new 3"]
    expect(page.locator("#status")).to_contain_text("live")


def test_filter_and_invert_are_applied_by_the_server(page: Page, serve: Callable[..., LogtailServer],
                                                      tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, ["ERROR one", "info two", "ERROR three"])
    server = serve(str(log))
    streams = stream_requests(page)
    open_dashboard(page, server, "log=app.log")
    wait_last(page, "ERROR three")

    page.locator("#filter").press_sequentially("ERROR", delay=20)  # debounced: one reopen when typing stops
    page.wait_for_function("() => location.hash.includes('q=ERROR')")
    expect(page.locator("#status")).to_have_attribute("data-state", "live")
    append(log, ["info four", "ERROR five", "debug six"])
    wait_last(page, "ERROR five")
    assert texts(page) == ["ERROR one", "ERROR three", "ERROR five"]
    assert page.locator("#panes mark").first.text_content() == "ERROR"
    assert parse_qs(urlsplit(streams[-1]).query)["q"] == ["ERROR"]

    page.locator("#opt-invert").check()
    expect(page.locator("#status")).to_have_attribute("data-state", "live")
    page.wait_for_function(LAST_TEXT_IS_JS, arg="debug six")
    append(log, ["ERROR seven", "info eight"])
    wait_last(page, "info eight")
    assert texts(page) == ["info two", "info four", "debug six", "info eight"]
    query = parse_qs(urlsplit(streams[-1]).query)
    assert (query["q"], query["invert"], query["log"]) == (["ERROR"], ["1"], ["app.log"])
    assert len(streams) == 3  # initial, filter, invert: typing did not reopen per keystroke

    # The permalink restores the filters.
    page.reload()
    expect(page.locator("#filter")).to_have_value("ERROR")
    expect(page.locator("#opt-invert")).to_be_checked()
    wait_last(page, "info eight")
    assert texts(page) == ["info two", "info four", "debug six", "info eight"]


def test_level_filter_and_invalid_regex(page: Page, serve: Callable[..., LogtailServer], tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, ["ERROR boom", "WARN careful", "INFO fine", "DEBUG noise"])
    server = serve(str(log))
    open_dashboard(page, server, "log=app.log&level=error,warn")
    wait_last(page, "WARN careful")
    assert texts(page) == ["ERROR boom", "WARN careful"]
    assert page.locator("#panes .line.lvl-error").count() == 1
    expect(page.locator('input[name="level"][value="info"]')).not_to_be_checked()

    page.locator("#opt-regex").check()
    page.locator("#filter").fill("(unclosed")
    expect(page.locator("#filter-error")).to_contain_text("invalid regex")
    expect(page.locator("#status")).to_have_attribute("data-state", "error")


def test_pause_holds_lines_and_resume_shows_every_one(page: Page, serve: Callable[..., LogtailServer],
                                                      tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, ["line 0"])
    server = serve(str(log))
    open_dashboard(page, server, "log=app.log")
    wait_last(page, "line 0")

    page.keyboard.press("Space")
    expect(page.locator("#held")).to_have_text("paused — 0 held")
    held = [f"line {i}" for i in range(1, 51)]
    append(log, held)
    expect(page.locator("#held")).to_have_text("paused — 50 held")
    assert texts(page) == ["line 0"]

    page.locator("#pause").click()
    wait_last(page, "line 50")
    assert texts(page) == ["line 0", *held]
    expect(page.locator("#held")).to_be_hidden()


def test_xss_lines_show_as_text_and_run_nothing(page: Page, serve: Callable[..., LogtailServer],
                                                tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    server = serve(str(log))
    open_dashboard(page, server, "log=app.log")
    attacks = [
        "<script>window.__xss=1</script>",
        '<img src=x onerror="window.__xss=1">',
        "<svg onload=window.__xss=1></svg> \x1b[31m<b>red</b>\x1b[0m",
        '{"level":"error","msg":"<img src=x onerror=window.__xss=1>"}',
        "last",
    ]
    append(log, attacks)
    wait_last(page, "last")

    shown = texts(page)
    assert shown[:2] == attacks[:2]
    assert shown[2] == "<svg onload=window.__xss=1></svg> <b>red</b>"  # colour kept as a class, escapes gone
    assert page.locator("#panes .ansi-fg-1").text_content() == "<b>red</b>"
    page.locator("#panes details.json summary").click()
    expect(page.locator("#panes .json-pretty")).to_contain_text('"msg": "<img src=x onerror=window.__xss=1>"')
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("#panes img, #panes script, #panes svg, #panes b").count() == 0


BIG_NUMBERS = ('{"msg":"hello","trace_id":1234567890123456789,"big":1e400,"price":1.50,"neg":-0,'
               '"nested":{"n":12345678901234567890}}')
NUMERIC_TIME = '{"time":1714564800,"level":"warn","msg":"numeric time","ratio":0.1000}'


@pytest.mark.parametrize("browser_has", ["source text", "no source text"])
def test_json_numbers_are_shown_as_written(page: Page, serve: Callable[..., LogtailServer], tmp_path: Path,
                                           browser_has: str) -> None:
    """Pins: the summary of a JSON line showed 1234567890123456789 as 1234567890123456800 and 1e400 as null.
    A browser without JSON.parse's source text (emulated by removing JSON.rawJSON) shows the raw line."""
    if browser_has == "no source text":
        page.add_init_script("delete JSON.rawJSON;")
    log = tmp_path / "app.log"
    append(log, [BIG_NUMBERS, NUMERIC_TIME, '{"msg":"no numbers","ok":true}'])
    server = serve(str(log))
    open_dashboard(page, server, "log=app.log")
    wait_last(page, "no numbers ok=true")

    if browser_has == "no source text":
        assert texts(page) == [BIG_NUMBERS, NUMERIC_TIME, "no numbers ok=true"]
        return
    assert texts(page) == [
        'hello trace_id=1234567890123456789 big=1e400 price=1.50 neg=-0 nested={"n":12345678901234567890}',
        "1714564800 WARN numeric time ratio=0.1000",
        "no numbers ok=true",
    ]
    page.locator("#panes details.json summary").first.click()
    pretty = page.locator("#panes .json-pretty").text_content()
    assert pretty == ('{\n  "msg": "hello",\n  "trace_id": 1234567890123456789,\n  "big": 1e400,\n'
                      '  "price": 1.50,\n  "neg": -0,\n  "nested": {\n    "n": 12345678901234567890\n  }\n}')


@pytest.mark.slow
def test_dom_never_holds_more_than_the_cap(page: Page, serve: Callable[..., LogtailServer],
                                           tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.touch()
    server = serve(str(log))
    open_dashboard(page, server, "log=app.log&max_lines=1000")
    expect(page.locator("#opt-max-lines")).to_have_value("1000")

    lines = [f"line {i:05d}" for i in range(1, 5_001)]  # five times the cap
    append(log, lines)
    wait_last(page, "line 05000", timeout=20_000)

    assert page.locator("#panes .line").count() == 1000
    assert texts(page) == lines[-1000:]
    expect(page.locator("#panes .dropped")).to_have_text("4000 older lines dropped")

    page.locator("#opt-max-lines").fill("500")
    page.locator("#opt-max-lines").press("Tab")
    page.wait_for_function("() => document.querySelectorAll('#panes .line').length === 500")
    assert texts(page) == lines[-500:]
    assert "max_lines=500" in page.url


@pytest.mark.slow
def test_two_thousand_lines_a_second_do_not_freeze_the_tab(page: Page, serve: Callable[..., LogtailServer],
                                                           tmp_path: Path) -> None:
    """Rendering is batched per animation frame: frames keep coming while 2,000 lines/s arrive."""
    log = tmp_path / "app.log"
    log.touch()
    server = serve(str(log))
    open_dashboard(page, server, "log=app.log")
    page.evaluate("""() => {
      window.__longestFrame = 0;
      let last = performance.now();
      const tick = (now) => {
        window.__longestFrame = Math.max(window.__longestFrame, now - last);
        last = now;
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    }""")

    lines = write_at_rate(log, rate=2000, seconds=2.4)  # 4,800 lines: under the default cap of 5,000

    shown = [line.replace("\x1b[32m", "").replace("\x1b[0m", "") for line in lines]
    wait_last(page, shown[-1])
    longest = page.evaluate("window.__longestFrame")
    assert longest < 750, f"the page froze for {longest:.0f} ms"
    assert texts(page) == shown


def test_notices_are_shown_inline_in_order(page: Page, serve: Callable[..., LogtailServer], tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, ["old file 1"])
    server = serve(str(log))
    open_dashboard(page, server, "log=app.log")
    wait_last(page, "old file 1")

    log.unlink()
    expect(page.locator("#panes .notice-missing")).to_contain_text("missing: ")
    append(log, ["new file 1"])
    wait_last(page, "new file 1")

    entries = page.evaluate("""() => [...document.querySelectorAll('#panes .line, #panes .notice')]
      .map((e) => e.classList.contains('notice') ? e.className : e.querySelector('.text').textContent)""")
    assert entries == ["old file 1", "notice notice-missing sev-warning", "notice notice-appeared sev-info",
                       "new file 1"]


@pytest.mark.slow
@pytest.mark.parametrize("via", ["direct", "proxy"])
def test_reconnect_after_server_restart_loses_and_repeats_nothing(page: Page, serve: Callable[..., LogtailServer],
                                                                  tmp_path: Path, via: str) -> None:
    """A restart on the same port: lines written while the server was down and after arrive once each.

    "direct": the browser's own reconnect (Last-Event-ID header). "proxy": the proxy answers 502 while the
    server is down, which closes the EventSource for good; the page reopens it with `last_event_id=`.
    """
    log = tmp_path / "app.log"
    before = [f"before {i}" for i in range(1, 6)]
    down = [f"while down {i}" for i in range(1, 6)]
    after = [f"after {i}" for i in range(1, 6)]
    append(log, before)
    port = free_port()
    first = serve(str(log), port=port)
    streams = stream_requests(page)
    with PrefixStrippingProxy(port, "") as proxy:
        open_dashboard(page, first if via == "direct" else f"http://127.0.0.1:{proxy.port}", "log=app.log")
        wait_last(page, "before 5")

        first.stop()
        expect(page.locator("#status")).to_have_attribute("data-state", "reconnecting")
        if via == "proxy":
            expect(page.locator("#status")).to_contain_text("HTTP 502")
        append(log, down)
        second = serve(str(log), port=port)
        append(log, after)

        wait_last(page, "after 5", timeout=15_000)
        assert texts(page) == before + down + after
        expect(page.locator("#status")).to_have_attribute("data-state", "live")
        assert second.port == first.port
        resumed_by_query = any("last_event_id=" in url for url in streams)
        assert resumed_by_query == (via == "proxy")
        page.close()


def test_two_logs_share_one_event_source(page: Page, serve: Callable[..., LogtailServer], tmp_path: Path) -> None:
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    append(a, ["a 1"])
    append(b, ["b 1"])
    server = serve(str(a), str(b))
    streams = stream_requests(page)
    open_dashboard(page, server, "log=a.log&log=b.log")
    append(a, ["a 2"])
    wait_last(page, "a 2")
    append(b, ["b 2"])
    wait_last(page, "b 2")

    assert sorted(texts(page)) == ["a 1", "a 2", "b 1", "b 2"]
    assert page.locator("#panes .line[data-log='a.log'] .tag").first.text_content() == "a.log"
    assert len(streams) == 1
    assert parse_qs(urlsplit(streams[0]).query)["log"] == ["a.log", "b.log"]
    # The page shows the latest lines and caps what it keeps: it asks to skip ahead rather than catch up.
    assert parse_qs(urlsplit(streams[0]).query)["overflow"] == ["skip"]

    # Side by side: one column per log, same stream.
    page.locator('input[name="view"][value="split"]').check()
    expect(page.locator("#panes .pane")).to_have_count(2)
    columns = page.locator("#panes .pane")
    append(b, ["b 3"])
    expect(columns.nth(1).locator(".line .text").last).to_have_text("b 3")
    assert columns.nth(0).locator(".line .text").all_text_contents() == ["a 1", "a 2"]
    assert columns.nth(1).locator(".line .text").all_text_contents() == ["b 1", "b 2", "b 3"]
    assert len(streams) == 1
    assert "view=split" in page.url


def test_keyboard_shortcuts_theme_and_copy(page: Page, serve: Callable[..., LogtailServer],
                                           tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, ["copy me <exactly>"])
    server = serve(str(log))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_dashboard(page, server, "log=app.log")
    wait_last(page, "copy me <exactly>")

    page.keyboard.press("/")
    expect(page.locator("#filter")).to_be_focused()
    page.keyboard.type("copy me")  # a space typed in the filter does not pause
    page.wait_for_function("() => location.hash.includes('q=copy+me')")
    wait_last(page, "copy me <exactly>")
    expect(page.locator("#pause")).to_have_attribute("aria-pressed", "false")
    page.keyboard.press("Escape")
    page.keyboard.press("Space")
    expect(page.locator("#pause")).to_have_attribute("aria-pressed", "true")

    page.locator("#panes .line").first.hover()
    page.locator("#panes .line .copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == "copy me <exactly>"

    page.locator("#theme").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.locator("#theme")).to_have_text("Theme: dark")


def test_scrolling_up_stops_following_without_losing_lines(page: Page, serve: Callable[..., LogtailServer],
                                                           tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    first = [f"line {i}" for i in range(1, 201)]
    append(log, first)
    server = serve(str(log), "--backlog", "200")
    open_dashboard(page, server, "log=app.log")
    wait_last(page, "line 200")

    body = page.locator("#panes .pane-body")
    body.hover()
    page.mouse.wheel(0, -2000)
    expect(page.locator("#panes .jump")).to_be_visible()
    more = [f"more {i}" for i in range(1, 11)]
    append(log, more)
    expect(page.locator("#panes .jump")).to_have_text("10 new lines — jump to bottom")
    assert texts(page) == first

    page.keyboard.press("End")
    wait_last(page, "more 10")
    assert texts(page) == first + more
    expect(page.locator("#panes .jump")).to_be_hidden()
    assert page.evaluate("(() => { const b = document.querySelector('#panes .pane-body');"
                         " return b.scrollHeight - b.scrollTop - b.clientHeight < 30; })()")


def test_lines_held_while_scrolled_up_are_bounded_and_counted(page: Page, serve: Callable[..., LogtailServer],
                                                              tmp_path: Path) -> None:
    """Regression: while scrolled up the held queue grew without bound and was counted in full every frame."""
    log = tmp_path / "app.log"
    append(log, [f"line {i}" for i in range(1, 201)])
    server = serve(str(log), "--backlog", "200")
    open_dashboard(page, server, "log=app.log&max_lines=100")
    wait_last(page, "line 200")
    page.locator("#panes .pane-body").hover()
    page.mouse.wheel(0, -300)  # up a little: not to the top, where scroll-back would load older lines
    expect(page.locator("#panes .jump")).to_be_visible()
    append(log, [f"more {i}" for i in range(1, 3001)])
    expect(page.locator("#panes .jump")).to_have_text("3000 new lines — jump to bottom")
    assert page.evaluate("() => window.logtail.panes[0].queued") <= 100 + 1000
    assert texts(page)[-1] == "line 200"  # the view the user is reading did not move

    page.keyboard.press("End")
    wait_last(page, "more 3000")
    assert texts(page) == [f"more {i}" for i in range(2901, 3001)]
    expect(page.locator("#panes .dropped")).to_have_text("3100 older lines dropped")


@pytest.mark.parametrize("via", ["direct", "proxy"])
def test_page_works_under_a_root_path(page: Page, serve: Callable[..., LogtailServer], tmp_path: Path,
                                      via: str) -> None:
    """`--root-path /prefix`: every URL the page uses (static files, stream, downloads) carries the prefix.

    "direct": the browser talks to uvicorn with the prefix in the path (the server accepts both forms);
    "proxy": a proxy strips the prefix as the shipped nginx site does.
    """
    log = tmp_path / "app.log"
    append(log, ["hello"])
    server = serve(str(log), "--root-path", "/prefix")
    loaded: dict[str, int] = {}
    page.on("response", lambda res: loaded.__setitem__(urlsplit(res.url).path, res.status))
    streams = stream_requests(page)
    with PrefixStrippingProxy(server.port, "/prefix") as proxy:
        base = f"http://127.0.0.1:{proxy.port if via == 'proxy' else server.port}/prefix"
        open_dashboard(page, base, "log=app.log")
        append(log, ["under prefix"])
        wait_last(page, "under prefix")

        assert texts(page) == ["hello", "under prefix"]
        assert loaded["/prefix/static/app.js"] == 200
        assert loaded["/prefix/static/app.css"] == 200
        assert urlsplit(streams[0]).path == "/prefix/api/stream"
        download = page.locator("#log-list a[download]").first.get_attribute("href")
        assert download == "/prefix/api/logs/app.log/download"
        page.close()  # before the proxy goes: no stream left open through it


def save_artifact(name: str, data: bytes) -> bytes:
    """Write tests/artifacts/NAME whole or not at all: parallel test runs (xdist workers, two checkouts'
    runs) never leave a half-written file for a reviewer."""
    ARTIFACTS.mkdir(exist_ok=True)
    partial = ARTIFACTS / f".{name}.{os.getpid()}.partial"
    partial.write_bytes(data)
    partial.replace(ARTIFACTS / name)
    return data


@pytest.mark.slow
def test_screenshot_for_review(page: Page, browser: Browser, serve: Callable[..., LogtailServer],
                               tmp_path: Path) -> None:
    app, worker = tmp_path / "app.log", tmp_path / "worker.log"
    append(app,
           ["2024-05-01 12:00:01 INFO  server started on :8080",
           "2024-05-01 12:00:02 DEBUG loading config from /etc/app.toml",
           "2024-05-01 12:00:03 WARN  cache miss ratio 0.42 above 0.30",
           '{"time":"2024-05-01T12:00:04Z","level":"error","msg":"payment failed","order":1234,"retry":true}',
           "2024-05-01 12:00:05 \x1b[32mINFO\x1b[0m  request \x1b[1mGET /api/orders\x1b[0m 200 12ms"])
    append(worker, ["[info] worker 1 ready", "[error] job 77 crashed: KeyError 'user'", "[info] job 78 done"])
    server = serve(str(app), str(worker))
    open_dashboard(page, server, "log=app.log&log=worker.log")
    page.wait_for_function("() => document.querySelectorAll('#panes .line').length === 8")
    page.locator("#panes details.json summary").click()
    expect(page.locator("#panes .json-pretty")).to_contain_text('"order": 1234')
    save_artifact("dashboard.png", page.screenshot())
    # What a reviewer would look for: every line in view, levels told apart by colour.
    assert page.evaluate(ALL_LINES_IN_VIEW_JS)
    colours = page.evaluate(LEVEL_COLOURS_JS)
    assert set(colours) == {"error", "warn", "info", "debug"} and len(set(colours.values())) == 4, colours

    phone = browser.new_context(viewport={"width": 390, "height": 760}, color_scheme="dark")
    try:
        small = phone.new_page()
        small.goto(page.url)
        small.wait_for_function("() => document.querySelectorAll('#panes .line').length === 8")
        save_artifact("dashboard-phone-dark.png", small.screenshot())
        # No sideways scrolling on a phone, and the dark scheme really is dark.
        assert small.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        assert small.evaluate(BACKGROUND_LUMINANCE_JS) < 0.2
    finally:
        phone.close()


ALL_LINES_IN_VIEW_JS = """() => [...document.querySelectorAll('#panes .line')].every((line) => {
  const r = line.getBoundingClientRect();
  return r.width > 0 && r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight;
})"""
LEVEL_COLOURS_JS = """() => Object.fromEntries([...document.querySelectorAll('#panes .line[class*="lvl-"]')].map(
  (line) => [line.className.match(/lvl-(\\w+)/)[1], getComputedStyle(line).borderLeftColor]))"""
BACKGROUND_LUMINANCE_JS = """() => {
  const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/[0-9.]+/g).map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}"""
