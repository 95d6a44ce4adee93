"""Blocks of whole lines, forwards and backwards, against a reference split of the same bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logtail.core.lines import LineSplitter, decode_capped
from logtail.sources.files.scan import Block, backward_blocks, clip, forward_blocks, lines_after, lines_before

CAP = 16

# Lines of every kind that matters at the edges: empty, CRLF, over the cap, multi-byte characters at the cap.
_LINE = st.one_of(
    st.sampled_from([b"", b"\r", b"x\r", "é".encode() * 9, b"y" * 40, b"a" * 15 + "é".encode()]),
    st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")),
)


def reference(data: bytes, tail: bool) -> list[tuple[str, int, bool]]:
    """The lines the follower makes of `data`: (text, end offset, truncated)."""
    splitter = LineSplitter(CAP)
    lines = [(r.text, r.end, r.truncated) for r in splitter.feed(data)]
    rest = data[splitter.line_start:]
    if tail and rest:
        text, cut = decode_capped(rest[: CAP + 4], CAP, len(rest) > CAP + 4)
        lines.append((text, len(data), cut))
    return lines


def block_lines(blocks: list[Block]) -> list[tuple[str, int, bool]]:
    out = []
    for b in blocks:
        pos = 0
        while pos < len(b.data):
            stop = b.data.find(b"\n", pos)
            text, cut = decode_capped(b.data[pos:stop], CAP, b.overflowed)
            out.append((text, b.line_end(stop), cut))
            pos = stop + 1
    return out


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(_LINE, max_size=12), ends_with_newline=st.booleans(), step=st.integers(1, 50),
       tail=st.booleans())
def test_forward_and_backward_blocks_give_the_followers_lines(tmp_path_factory: pytest.TempPathFactory,
                                                              lines: list[bytes], ends_with_newline: bool,
                                                              step: int, tail: bool) -> None:
    data = b"\n".join(lines) + (b"\n" if ends_with_newline and lines else b"")
    path = tmp_path_factory.mktemp("blocks") / "f.log"
    path.write_bytes(data)
    expected = reference(data, tail)
    forward = [b for blocks, _ in forward_blocks(lambda pos, n: data[pos:pos + n], 0, len(data), CAP,
                                                 tail=tail, block=step) for b in blocks]
    assert block_lines(forward) == expected
    with path.open("rb") as f:
        steps = [blocks for blocks, _ in backward_blocks(f.fileno(), 0, len(data), CAP, tail=tail, block=step)]
    backward = [b for blocks in reversed(steps) for b in reversed(blocks)]
    assert block_lines(backward) == expected


def test_clip_keeps_lines_inside_the_bounds() -> None:
    block = Block(100, b"aa\nbb\ncc\n")  # lines end at 103, 106, 109
    assert clip(block, 100, None) == (0, 9, False)
    assert clip(block, 103, None) == (3, 9, False)
    assert clip(block, 101, None) == (3, 9, False)  # a line starting before `lo` is left out
    assert clip(block, 100, 106) == (0, 6, False)
    assert clip(block, 100, 105) == (0, 3, False)
    assert clip(block, 0, 100) == (0, 0, True)


def test_context_lines_before_and_after(tmp_path: Path) -> None:
    path = tmp_path / "f.log"
    path.write_bytes(b"one\ntwo\r\nthree\n" + b"z" * 40 + b"\nlast")
    with path.open("rb") as f:
        fd = f.fileno()
        assert lines_before(fd, 15, 2, CAP) == ["two", "three"]
        assert lines_before(fd, 4, 5, CAP) == ["one"]
        assert lines_after(fd, 4, 3, CAP, 60, tail=False) == ["two", "three", "z" * CAP]
        assert lines_after(fd, 15, 5, CAP, 60, tail=True) == ["z" * CAP, "last"]
        assert lines_after(fd, 15, 5, CAP, 60, tail=False) == ["z" * CAP]
