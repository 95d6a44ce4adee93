"""The page's pure modules, unit-tested in the real browser: ANSI parsing and highlighting (render.js),
a line's fields and the field filter's shape against the server's own (fields.js), cursors (stream.js), URL
state (state.js), the server's query (query.js), shared helpers and the server's configuration (page.js);
and the shape of the page's imports: a tree from its entry points, no module importing one that imports it.

Each table is evaluated in Debian's headless Chromium on the dashboard of a real server (which serves the
modules and writes the configuration they read), through a dynamic `import()` of the module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from playwright.sync_api import Browser, Page

from logtail.core.frames import NoticeKind
from logtail.match.fields import LOGFMT_PAIR, OPERATORS, FieldFilter, parse_fields
from logtail.match.patterns import FilterError
from tests.browser_support import TIMEOUT_MS, browser
from tests.streams import append
from tests.support import LogtailServer

__all__ = ["browser"]  # a fixture used here by name

pytestmark = pytest.mark.browser

STATIC = Path(__file__).resolve().parent.parent / "static"
ENTRY_POINTS = ("app.js", "history.js", "watches.js")  # the modules templates/dashboard.html loads
IMPORT = re.compile(r'^import\s(?:[^;]*?from\s+)?"\./([\w.-]+\.js)";', re.MULTILINE)


@pytest.fixture(scope="module")
def dashboard(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    """One server and one page for every table here: the modules are pure, the tests share nothing else."""
    tmp = tmp_path_factory.mktemp("page-modules")
    log = tmp / "app.log"
    append(log, ["x"])
    server = LogtailServer([str(log), "--backlog", "7"]).start(tmp)
    context = browser.new_context()
    try:
        pg = context.new_page()
        pg.set_default_timeout(TIMEOUT_MS)
        pg.goto(f"{server.url}/")
        yield pg
    finally:
        context.close()
        server.stop()


def call(pg: Page, module: str, expression: str, arg: Any = None) -> Any:
    """`expression` evaluated with the module's exports as `m` and `arg` as `arg`."""
    return pg.evaluate(f"async (arg) => {{ const m = await import('/static/{module}'); return {expression}; }}", arg)


@pytest.mark.parametrize(("text", "segments"), [
    ("plain", [{"text": "plain", "cls": ""}]),
    ("\x1b[31mred\x1b[0m plain", [{"text": "red", "cls": "ansi-fg-1"}, {"text": " plain", "cls": ""}]),
    ("\x1b[1;4;92mx", [{"text": "x", "cls": "ansi-fg-10 ansi-bold ansi-underline"}]),
    ("\x1b[38;5;3my\x1b[39mz", [{"text": "y", "cls": "ansi-fg-3"}, {"text": "z", "cls": ""}]),
    ("\x1b[38;2;1;2;3mtrue\x1b[44mbg", [{"text": "true", "cls": ""}, {"text": "bg", "cls": "ansi-bg-4"}]),
    ("a\x1b[?25lb\x1b]0;title\x07c", [{"text": "a", "cls": ""}, {"text": "b", "cls": ""}, {"text": "c", "cls": ""}]),
    ("bell\x07 and\x00 nul", [{"text": "bell and nul", "cls": ""}]),
])
def test_parse_ansi(dashboard: Page, text: str, segments: list[dict[str, str]]) -> None:
    assert call(dashboard, "render.js", "m.parseAnsi(arg)", text) == segments


def test_strip_ansi(dashboard: Page) -> None:
    assert call(dashboard, "render.js", "m.stripAnsi(arg)", "\x1b[1mbold\x1b[0m\x01!") == "bold!"


@pytest.mark.parametrize(("filter_", "text", "ranges"), [
    ({"q": "ab"}, "xabyab", [[1, 3], [4, 6]]),
    ({"q": "AB", "ignoreCase": True}, "xab", [[1, 3]]),
    ({"q": "AB"}, "xab", []),
    ({"q": "a+", "regex": True}, "caaat", [[1, 4]]),
    ({"q": "(?i)err", "regex": True}, "ERR", [[0, 3]]),
    ({"q": "x*", "regex": True}, "abc", []),  # empty matches are skipped, never an endless loop
    ({"q": "ab", "invert": True}, "ab", None),
    ({"q": "(", "regex": True}, "(", None),  # JavaScript cannot compile it: no highlighting
    ({"q": ""}, "ab", None),
])
def test_matcher_ranges(dashboard: Page, filter_: dict[str, Any], text: str, ranges: list[list[int]] | None) -> None:
    got = call(dashboard, "render.js", "(() => { const f = m.makeMatcher(arg.f); return f ? f(arg.t) : null; })()",
               {"f": filter_, "t": text})
    assert got == ranges


@pytest.mark.parametrize(("id_", "log", "cursor"), [
    ("a.log=0123456789ab:42", "a.log", {"log": "a.log", "fid": "0123456789ab", "offset": 42}),
    ("a=000000000001:1,b=000000000002:2", "b", {"log": "b", "fid": "000000000002", "offset": 2}),
    ("a=000000000001:1", "b", None),
    ("a=000000000001:x", "a", None),
    ("garbage", "a", None),
])
def test_parse_cursor(dashboard: Page, id_: str, log: str, cursor: dict[str, Any] | None) -> None:
    assert call(dashboard, "stream.js", "m.parseCursor(arg.id, arg.log)", {"id": id_, "log": log}) == cursor


def test_format_detail(dashboard: Page) -> None:
    detail = [{"loc": ["query", "backlog"], "msg": "too big"}, {"msg": "other"}]
    assert call(dashboard, "stream.js", "m.formatDetail(arg)", detail) == "backlog: too big; other"


def test_url_state_round_trip_and_stream_url(dashboard: Page) -> None:
    state = call(dashboard, "state.js", """(() => {
      location.hash = "log=a&log=b&q=x&regex=1&level=error,bogus&view=split&wrap=0&max_lines=5";
      return m.readState({ maxLines: 1000 });
    })()""")
    assert state == {"logs": ["a", "b"], "q": "x", "regex": True, "ignoreCase": False, "invert": False,
                     "levels": ["error"], "view": "split", "wrap": False, "maxLines": 10, "fields": [],
                     "columns": [], "since": "", "around": ""}
    assert call(dashboard, "state.js", """(() => {
      m.writeState(arg, { maxLines: 1000 });
      return location.hash;
    })()""", state) == "#log=a&log=b&q=x&regex=1&level=error&view=split&wrap=0&max_lines=10"
    assert call(dashboard, "query.js", "m.streamUrl('/root', arg, 7)", state) == (
        "/root/api/stream?log=a&log=b&backlog=7&regex=x&level=error&overflow=skip")


def test_all_levels_are_left_out_of_urls(dashboard: Page) -> None:
    state = call(dashboard, "state.js", "(() => { location.hash = 'log=a'; return m.readState({ maxLines: 9 }); })()")
    assert state["levels"] == ["error", "warn", "info", "debug"]
    assert call(dashboard, "query.js", "m.streamUrl('', arg, 1)", state) == "/api/stream?log=a&backlog=1&overflow=skip"


@pytest.mark.parametrize(("filter_", "query"), [
    ({}, ""),
    ({"q": "x", "ignoreCase": True, "invert": True}, "q=x&ignore_case=1&invert=1"),
    ({"q": "a+", "regex": True}, "regex=a%2B"),
    ({"ignoreCase": True, "invert": True}, ""),  # flags without a text are left out
    ({"levels": ["error", "warn"], "fields": ["status>=500", "user:al ice"]},
     "level=error%2Cwarn&field=status%3E%3D500&field=user%3Aal+ice"),
    ({"levels": ["error", "warn", "info", "debug"]}, ""),  # all levels: no level filter
])
def test_filter_params_for_streams_and_searches(dashboard: Page, filter_: dict[str, Any], query: str) -> None:
    """The one place the filter's query is built: the stream URL above and the searches of history.js."""
    assert call(dashboard, "query.js", "m.filterParams(arg).toString()", filter_) == query


def test_page_config_comes_from_the_server(dashboard: Page) -> None:
    config = call(dashboard, "page.js", "m.config")
    assert config["levels"] == ["error", "warn", "info", "debug"] and config["backlog"] == 7
    assert config["noticeKinds"] == list(get_args(NoticeKind))
    assert [log["name"] for log in config["logs"]] == ["app.log"]
    assert config["fieldGrammar"] == {"logfmtPair": LOGFMT_PAIR, "operators": list(OPERATORS)}


@pytest.mark.parametrize("text", [
    "status=200 path=/a user=alice",
    '  msg="disk \\"full\\" now" n=3\t',
    'a="\\u00e9t\\u00e9" b= c=x',
    "key=value and words",  # not only pairs: a plain line
    "plain text",
    "",
    "   ",
    "=x",
    'a="unterminated',
    '{"a": 1, "b": {"c": [true, null]}, "s": "t"}',
    '{"a": ',
])
def test_fields_of_a_line_as_the_server_reads_them(dashboard: Page, text: str) -> None:
    """The page reads a line's fields with the server's logfmt grammar (not a copy that could drift)."""
    assert call(dashboard, "fields.js", "m.parseFields(arg)", text) == parse_fields(text)


@pytest.mark.parametrize("expr", ["status>=500", "user:alice", "user!:bob", "path~^/a:b", "a<1", "a>b<c",
                                  ":x", "no operator", "", "k=v"])
def test_field_filter_shape_as_the_server_parses_it(dashboard: Page, expr: str) -> None:
    try:
        FieldFilter.parse(expr)
        expected = True
    except FilterError as exc:
        expected = "needs a number" in str(exc)  # the shape is right; the server checks the value
    assert call(dashboard, "fields.js", "m.isFieldFilter(arg)", expr) is expected


@pytest.mark.parametrize(("size", "text"), [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KB"), (20 * 1024**2, "20 MB"),
                                            (-1, ""), (None, "")])
def test_human_size(dashboard: Page, size: int | None, text: str) -> None:
    assert call(dashboard, "page.js", "m.humanSize(arg)", size) == text


def page_imports() -> dict[str, list[str]]:
    """Each module of static/ and the page modules it imports (static `import ... from "./x.js"`)."""
    return {path.name: IMPORT.findall(path.read_text(encoding="utf-8")) for path in sorted(STATIC.glob("*.js"))}


def test_page_imports_form_a_tree_from_the_entry_points() -> None:
    """No import cycle among the page's modules (render.js and fields.js imported each other), every import
    names a module that exists, and every module is reached from the modules the dashboard loads."""
    imports = page_imports()
    assert set(ENTRY_POINTS) <= imports.keys()
    for module, names in imports.items():
        assert set(names) <= imports.keys(), f"{module} imports a module that is not in static/"
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import cycle: {' -> '.join((*path[path.index(module):], module))}"
        if module in done:
            return
        for name in imports[module]:
            visit(name, (*path, module))
        done.add(module)

    for entry in ENTRY_POINTS:
        visit(entry, ())
    assert done == imports.keys(), f"modules no page loads: {sorted(imports.keys() - done)}"
