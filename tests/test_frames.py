"""SSE framing, byte for byte."""

from __future__ import annotations

import json

import pytest

from logtail.core.frames import Line, LineRecord, encode_retry, notice_frame, notice_record
from tests.sse_client import decode_events


def test_retry() -> None:
    assert encode_retry(2000) == b"retry: 2000\n\n"


def test_line_frame_exact_bytes() -> None:
    line = Line("app.log", "ERROR boom", "0123456789ab", 42)
    assert line.frame("sse") == (
        b'id: app.log=0123456789ab:42\nevent: line\ndata: {"log":"app.log","text":"ERROR boom",'
        b'"id":"app.log=0123456789ab:42","level":"error"}\n\n'
    )
    assert line.frame("text") == b"ERROR boom\n"
    assert json.loads(line.frame("ndjson")) == {"log": "app.log", "text": "ERROR boom",
                                                "id": "app.log=0123456789ab:42", "level": "error"}


def test_line_frames_are_encoded_once_and_shared() -> None:
    line = Line("a", "x", "0123456789ab", 2)
    assert line.frame("sse") is line.frame("sse")


def test_hostile_text_cannot_forge_fields() -> None:
    text = "x\r\nid: forged\n\nevent: notice\rdata: {}\0"
    line = Line("a", text, "0123456789ab", 9)
    events = list(decode_events(line.frame("sse").decode()))
    assert len(events) == 1
    assert events[0]["id"] == "a=0123456789ab:9" and events[0]["event"] == "line"
    assert json.loads(events[0]["data"])["text"] == text


def test_truncated_flag_in_payload() -> None:
    assert json.loads(Line("a", "x", "0123456789ab", 2, truncated=True).json)["truncated"] is True


def test_notice_frames() -> None:
    assert notice_frame("sse", "a", "rotated", "m") == (
        b'event: notice\ndata: {"log":"a","kind":"rotated","message":"m"}\n\n')
    assert json.loads(notice_frame("ndjson", "a", "gap", "m", missed=3)) == {
        "event": "notice", "log": "a", "kind": "gap", "message": "m", "missed": 3}
    assert notice_frame("text", "a", "missing", "gone") == b"[logtail] a: missing: gone\n"
    assert notice_frame("text", None, "shutdown", "bye") == b"[logtail] -: shutdown: bye\n"
    assert notice_frame("ndjson", "a", "gap", "m", skipped_bytes=5) == (
        b'{"event":"notice","log":"a","kind":"gap","message":"m","skipped_bytes":5}\n')


def test_notice_record_is_what_the_ndjson_frame_carries() -> None:
    record = notice_record("a", "unreadable", "m")
    assert record == {"event": "notice", "log": "a", "kind": "unreadable", "message": "m"}
    assert json.loads(notice_frame("ndjson", "a", "unreadable", "m")) == record


def test_line_json_is_a_line_record() -> None:
    """`Line.json` is built by hand for speed: it must still be exactly the documented LineRecord."""
    expected: LineRecord = {"log": "a", "text": 'q"\\é', "id": "a=0123456789ab:2", "level": None,
                            "truncated": True}
    assert json.loads(Line("a", 'q"\\é', "0123456789ab", 2, truncated=True).json) == expected
    assert list(json.loads(Line("a", "x", "0123456789ab", 2).json)) == ["log", "text", "id", "level"]
    for line in (Line("a", "ERROR é", "0123456789ab", 2), Line("b", "x", "0123456789ab", 3, truncated=True)):
        assert json.loads(line.json) == line.record()


def test_decode_drops_unterminated_event_and_comments() -> None:
    assert list(decode_events(": hi\n\ndata: 1\n\ndata: 2")) == [{"data": "1"}]


def test_level_and_id_are_worked_out_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A line that only goes out as text needs neither its level nor its id: none is computed for it."""
    import logtail.core.frames

    calls: list[str] = []
    real = logtail.core.frames.detect_level
    monkeypatch.setattr(logtail.core.frames, "detect_level", lambda text: (calls.append(text), real(text))[1])
    line = Line("app.log", "ERROR disk full", "f1", 16)
    assert line.frame("text") == b"ERROR disk full\n"
    assert calls == [] and line._cursor is None
    assert (line.level, line.level, line.cursor) == ("error", "error", "app.log=f1:16")
    assert calls == ["ERROR disk full"]
    assert Line("app.log", "plain", "f1", 6).level is None
