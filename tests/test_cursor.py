from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from logtail.core.cursor import HEAD_BYTES, Cursor, EventIds, event_id, file_id, parse_cursors


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


@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 10**6), st.booleans()), max_size=200))
def test_event_ids_are_the_cursors_joined_in_the_order_the_logs_came(changes: list[tuple[int, int, bool]]) -> None:
    """EventIds (the multi-log stream's id, rebuilt a run of cursors at a time) gives what joining every
    cursor gives, after any mix of single changes and updates of several logs (a position mark)."""
    ids, reference = EventIds(), {}
    for log, offset, several in changes:
        new = {f"l{log + k}.log": str(Cursor(f"l{log + k}.log", "0123456789ab", offset + k))
               for k in range(3 if several else 1)}
        reference.update(new)
        if several:
            ids.update(new)
        else:
            ids[f"l{log}.log"] = new[f"l{log}.log"]
        assert ids.id() == event_id(reference.values()).encode()
