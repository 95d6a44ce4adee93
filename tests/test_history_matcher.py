"""The prefilter never misses a line the filter passes: Matcher against the filter applied line by line."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from logtail.core.lines import decode_capped
from logtail.match.filters import LineFilter
from logtail.match.levels import detect_level
from logtail.sources.files.prefilter import Matcher
from logtail.sources.files.scan import Block

CAP = 64
_LINES = st.lists(st.sampled_from([
    b"2026 ERROR disk full", b"warn: slow", b"INFO started", b"debug x", b"plain text", b"caf\xc3\xa9 error",
    b"\xff\xfe invalid", b"crlf line\r", b"\x1b[31mERROR\x1b[0m red", b"", b"ERRor mixed", b"x" * 100 + b" error",
]), max_size=15)
_FILTERS = st.sampled_from([
    LineFilter(), LineFilter(q="error"), LineFilter(q="error", ignore_case=True), LineFilter(q="ERROR", invert=True),
    LineFilter(regex="^INFO"), LineFilter(regex="(?i)err|slow"), LineFilter(regex="line$"),
    LineFilter(levels=frozenset({"error"})), LineFilter(levels=frozenset({"info", "debug"})),
    LineFilter(q="é", ignore_case=True), LineFilter(regex=r"\Aplain"),
])


def expected_hits(data: bytes, f: LineFilter) -> list[str]:
    texts = [decode_capped(raw, CAP)[0] for raw in data.split(b"\n")[:-1]]
    return [t for t in texts if f.matches(t, detect_level(t))]


@settings(max_examples=300, deadline=None)
@given(lines=_LINES, f=_FILTERS, want=st.integers(1, 20), newest=st.booleans())
def test_matcher_finds_exactly_the_filters_lines(lines: list[bytes], f: LineFilter, want: int,
                                                 newest: bool) -> None:
    data = b"".join(line + b"\n" for line in lines)
    expected = expected_hits(data, f)
    hits, more = Matcher(f, CAP).find(Block(0, data), want, newest)
    assert [h.text for h in hits] == (expected[-want:] if newest else expected[:want])
    assert more == (len(expected) > want)
    assert all(h.level == detect_level(h.text) for h in hits)
