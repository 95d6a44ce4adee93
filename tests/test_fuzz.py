"""Property tests (hypothesis) for the pure cores: the line splitter, SSE framing and the filters, each
against a simple reference implementation."""

from __future__ import annotations

import itertools
import json
import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from logtail.core.frames import Line, NoticeKind, notice_frame
from logtail.core.lines import LineSplitter, RawLine, cut_at_char_boundary
from logtail.core.subscription import LogStats, Subscription
from logtail.match.filters import LineFilter
from logtail.match.levels import LEVELS, detect_level
from tests.sse_client import decode_events

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- the line splitter ------------------------------------------------------------------------------------

# Bytes rich in what matters: newlines, CRs, multi-byte UTF-8 (whole and split), invalid bytes.
PIECES = st.sampled_from([b"a", b"bc", b"\n", b"\r", b"\r\n", b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9f\x98\x80",
                          b"\xc3", b"\xa9", b"\xff", b"\x00", b" ", b"xyz" * 5])
DATA = st.lists(PIECES, max_size=60).map(b"".join) | st.binary(max_size=200)


def reference_lines(data: bytes, cap: int) -> list[RawLine]:
    """The policy, applied to the whole input at once."""
    out = []
    pieces = data.split(b"\n")
    offset = 0
    for raw in pieces[:-1]:  # the last piece has no newline yet: held back
        offset += len(raw) + 1
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if len(raw) > cap:
            out.append(RawLine(cut_at_char_boundary(raw, cap).decode("utf-8", "replace"), offset, True))
        else:
            out.append(RawLine(raw.decode("utf-8", "replace"), offset))
    return out


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@FUZZ
@given(data=DATA, cuts=st.lists(st.integers(0, 200), max_size=20), cap=st.integers(1, 40),
       start=st.integers(0, 10**12))
@example(data=b"abc\r\n", cuts=[4], cap=3, start=0)  # a CR that only fits the cap once stripped
def test_splitter_any_chunking_gives_the_reference_lines(data: bytes, cuts: list[int], cap: int,
                                                         start: int) -> None:
    """Same lines, offsets and truncation flags whatever the chunking. Regression (the explicit example): a
    line exactly at the cap whose CRLF was split between CR and LF was flagged truncated."""
    splitter = LineSplitter(cap, offset=start)
    got: list[RawLine] = []
    for chunk in chunked(data, cuts):
        got.extend(splitter.feed(chunk))
    expected = [RawLine(r.text, r.end + start, r.truncated) for r in reference_lines(data, cap)]
    assert got == expected
    # Offsets: every byte up to the last newline was consumed; the pending line starts right after it.
    assert splitter.offset == start + len(data)
    assert splitter.line_start == start + data.rfind(b"\n") + 1
    assert splitter.pending_bytes <= cap + 4  # memory bounded by the cap, whatever the input


# --- SSE framing ------------------------------------------------------------------------------------------

ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=80) | st.lists(
    st.sampled_from(["\r", "\n", "\r\n", "\x00", "\u2028", "\u2029", "\x85", "data: x", "id: 1", "event: e",
                     ":", " ", "é", "😀", "retry: 1"]), max_size=20).map("".join)


LOG_NAMES = st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True)


@FUZZ
@given(log=LOG_NAMES, text=ANY_TEXT, fid=st.from_regex(r"[0-9a-f]{12}", fullmatch=True),
       end=st.integers(0, 2**63 - 1), truncated=st.booleans())
def test_line_frames_parse_back_to_the_same_line(log: str, text: str, fid: str, end: int, truncated: bool) -> None:
    line = Line(log, text, fid, end, truncated)
    sse = line.frame("sse")
    assert b"\r" not in sse and sse.count(b"\n") == 4  # id, event, data, blank: nothing in the text adds one
    events = list(decode_events(sse.decode()))
    assert len(events) == 1
    ev = events[0]
    assert ev["id"] == f"{log}={fid}:{end}" and ev["event"] == "line"
    data = json.loads(ev["data"])
    expected: dict[str, object] = {"log": log, "text": text, "id": f"{log}={fid}:{end}", "level": line.level}
    if truncated:
        expected["truncated"] = True
    assert data == expected
    nd = line.frame("ndjson")
    assert nd.endswith(b"\n") and nd.count(b"\n") == 1 and b"\r" not in nd
    assert json.loads(nd) == expected


@FUZZ
@given(log=st.none() | LOG_NAMES, kind=st.sampled_from(["rotated", "gap", "shutdown"]), message=ANY_TEXT)
def test_notice_frames_parse_back(log: str | None, kind: NoticeKind, message: str) -> None:
    events = list(decode_events(notice_frame("sse", log, kind, message, missed=3).decode()))
    assert events == [{"event": "notice", "data": events[0]["data"]}]
    assert json.loads(events[0]["data"]) == {"log": log, "kind": kind, "message": message, "missed": 3}
    nd = notice_frame("ndjson", log, kind, message)
    assert nd.count(b"\n") == 1 and json.loads(nd)["message"] == message


@FUZZ
@given(lines=st.lists(st.tuples(st.sampled_from(["a.log", "b.log"]), ANY_TEXT, st.integers(1, 10**9)),
                      min_size=1, max_size=10))
def test_multi_log_ids_carry_the_position_of_every_log(lines: list[tuple[str, str, int]]) -> None:
    """NDJSON: each row's `id` is every log's position as of that row. SSE: line events carry no id, and the
    write ends with one id-only event holding every log's position."""
    ndjson = Subscription(["a.log", "b.log"], LineFilter(), "ndjson", 1 << 20, multi=True)
    sse = Subscription(["a.log", "b.log"], LineFilter(), "sse", 1 << 20, multi=True)
    for log, text, end in lines:
        for sub in (ndjson, sse):
            sub.push_lines(log, [Line(log, text, "0" * 12, end)], LogStats())
    rows = [json.loads(row) for row in ndjson.take().split(b"\n") if row]  # JSON escapes every LF in a row
    events = list(decode_events(sse.take().decode()))
    assert len(rows) == len(lines) and len(events) == len(lines) + 1
    position: dict[str, str] = {}
    for (log, text, end), row, ev in zip(lines, rows, events, strict=False):
        position[log] = f"{log}=000000000000:{end}"
        assert row["id"] == ",".join(position.values()) and row["text"] == text and row["log"] == log
        assert "id" not in ev and json.loads(ev["data"])["text"] == text
    assert events[-1] == {"id": ",".join(position.values())}


# --- filters ----------------------------------------------------------------------------------------------

TEXT = st.text(alphabet="abcABC xyz.-_0123ERROR", max_size=30)


@st.composite
def patterns(draw: st.DrawFn, depth: int = 0) -> str:
    """Small regexes on which Python `re` and RE2 agree (no backreferences, lookaround or possessives)."""
    atoms = ["a", "b", "c", "A", "x", ".", "[abc]", "[^a]", r"\.", "0", r"\d", r"\w", r"\s", "E"]
    if depth < 2:
        atoms.append("(" + draw(patterns(depth + 1)) + ")")
        atoms.append("(?:" + draw(patterns(depth + 1)) + "|" + draw(patterns(depth + 1)) + ")")
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        atom = draw(st.sampled_from(atoms))
        parts.append(atom + draw(st.sampled_from(["", "", "*", "+", "?", "{1,2}"])))
    anchor_start = draw(st.sampled_from(["", "^"]))
    anchor_end = draw(st.sampled_from(["", "$"]))
    return anchor_start + "".join(parts) + anchor_end


def reference_match(flt: LineFilter, text: str) -> bool:
    if flt.levels and detect_level(text) not in flt.levels:
        return False
    if not (flt.q or flt.regex):
        return True
    flags = re.IGNORECASE if flt.ignore_case else 0
    hit = (not flt.q or re.search(re.escape(flt.q), text, flags) is not None) and (
        not flt.regex or re.search(flt.regex, text, flags) is not None)
    return hit != flt.invert


@FUZZ
@given(text=TEXT, q=st.just("") | TEXT.map(lambda t: t[:4]), regex=st.just("") | patterns(),
       ignore_case=st.booleans(), invert=st.booleans(),
       levels=st.frozensets(st.sampled_from(LEVELS), max_size=2))
def test_filter_matches_the_reference(text: str, q: str, regex: str, ignore_case: bool, invert: bool,
                                      levels: frozenset[str]) -> None:
    flt = LineFilter(q, regex, ignore_case, invert, levels)
    assert flt.matches(text, detect_level(text)) == reference_match(flt, text)


@FUZZ
@given(text=st.text(max_size=60), q=st.text(max_size=5), invert=st.booleans())
def test_substring_filter_on_any_text(text: str, q: str, invert: bool) -> None:
    flt = LineFilter(q=q, invert=invert)
    assert flt.matches(text, None) == (((q in text) != invert) if q else True)
