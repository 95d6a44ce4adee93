"""SSE framing, byte for byte."""

from __future__ import annotations

import json

import pytest

from logtail.sse import Line, decode_events, encode_comment, encode_event, encode_retry, notice_frame


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"data": "hello"}, b"data: hello\n\n"),
        ({"data": "a\nb"}, b"data: a\ndata: b\n\n"),
        ({"data": "a\r\nb\rc"}, b"data: a\ndata: b\ndata: c\n\n"),
        ({"data": ""}, b"data: \n\n"),
        ({"data": "x", "event": "line", "id": "7"}, b"id: 7\nevent: line\ndata: x\n\n"),
    ],
)
def test_encode_event(kwargs: dict[str, str], expected: bytes) -> None:
    assert encode_event(**kwargs) == expected


def test_id_with_newline_is_refused() -> None:
    with pytest.raises(ValueError, match="id"):
        encode_event("x", id="1\nevent: forged")


def test_retry_and_comment() -> None:
    assert encode_retry(2000) == b"retry: 2000\n\n"
    assert encode_comment("ping") == b": ping\n\n"


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


def test_decode_drops_unterminated_event_and_comments() -> None:
    assert list(decode_events(": hi\n\ndata: 1\n\ndata: 2")) == [{"data": "1"}]


def test_level_and_id_are_worked_out_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A line that only goes out as text needs neither its level nor its id: none is computed for it."""
    import logtail.sse

    calls: list[str] = []
    real = logtail.sse.detect_level
    monkeypatch.setattr(logtail.sse, "detect_level", lambda text: (calls.append(text), real(text))[1])
    line = Line("app.log", "ERROR disk full", "f1", 16)
    assert line.frame("text") == b"ERROR disk full\n"
    assert calls == [] and line._cursor is None
    assert (line.level, line.level, line.cursor) == ("error", "error", "app.log=f1:16")
    assert calls == ["ERROR disk full"]
    assert Line("app.log", "plain", "f1", 6).level is None
