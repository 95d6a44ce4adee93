from __future__ import annotations

from logtail.core.cursor import HEAD_BYTES, Cursor, event_id, file_id, parse_cursors


def test_round_trip_single_and_vector() -> None:
    a, b = Cursor("a.log", "0123456789ab", 10), Cursor("b", "ba9876543210", 0)
    assert parse_cursors(str(a)) == {"a.log": a}
    assert parse_cursors(event_id([str(a), str(b)])) == {"a.log": a, "b": b}


def test_garbage_is_ignored_not_fatal() -> None:
    assert parse_cursors("nonsense,../etc=zz:1,a=0123456789ab:-1\0") == {}
    assert parse_cursors(None) == {}


def test_file_id_depends_on_head_up_to_the_offset() -> None:
    head = b"first line\nsecond line\n"
    assert file_id(head, 11) == file_id(b"first line\nsomething else", 11)
    assert file_id(head, 11) != file_id(b"other line\n", 11)
    long_head = b"x" * 1000
    assert file_id(long_head, 5000) == file_id(long_head[:HEAD_BYTES], 300)
