from __future__ import annotations

import pytest

from logtail.match.filters import FilterError, LineFilter


@pytest.mark.parametrize(
    ("flt", "text", "level", "expected"),
    [
        (LineFilter(q="boom"), "a boom b", None, True),
        (LineFilter(q="BOOM"), "a boom b", None, False),
        (LineFilter(q="BOOM", ignore_case=True), "a boom b", None, True),
        (LineFilter(q="boom", invert=True), "a boom b", None, False),
        (LineFilter(regex=r"id=\d+$"), "x id=42", None, True),
        (LineFilter(regex="ERR", ignore_case=True), "err", None, True),
        (LineFilter(levels=frozenset({"error"})), "x", "error", True),
        (LineFilter(levels=frozenset({"error"})), "x", None, False),
        (LineFilter(q="x", invert=True, levels=frozenset({"warn"})), "y", "warn", True),
        (LineFilter(), "anything", None, True),
    ],
)
def test_matches(flt: LineFilter, text: str, level: str | None, expected: bool) -> None:
    assert flt.matches(text, level) is expected


def test_invalid_regex_names_the_problem() -> None:
    with pytest.raises(FilterError) as refused:
        LineFilter(regex="(unclosed")
    assert str(refused.value) == "invalid regex: missing ): (unclosed"  # RE2's reason as text, not b'...'
    with pytest.raises(FilterError, match="invalid regex"):
        LineFilter(regex=r"(a)\1")  # backreferences are not linear-time: RE2 refuses them


def test_caps_and_unknown_level() -> None:
    with pytest.raises(FilterError, match="q is longer"):
        LineFilter(q="x" * 1001)
    with pytest.raises(FilterError, match="level"):
        LineFilter(levels=frozenset({"loud"}))


@pytest.mark.timeout(10)
def test_catastrophic_pattern_is_harmless() -> None:
    """Python's re needs seconds for 25 characters of this (and ages for 100,000); RE2 is linear.

    The test timeout is the hang guard, not a performance assertion."""
    assert not LineFilter(regex="(a+)+$").matches("a" * 100_000 + "!", None)
    assert not LineFilter(regex="(a|a?)+b").matches("a" * 100_000, None)


def test_filters_are_hashable_values() -> None:
    assert LineFilter(q="a") == LineFilter(q="a")
    assert len({LineFilter(q="a"), LineFilter(q="a"), LineFilter(q="b")}) == 2
