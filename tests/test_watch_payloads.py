"""Alert payloads per destination format (logtail/watches/payloads.py), hostile line content included."""

from __future__ import annotations

import json

import pytest
from jinja2.exceptions import SecurityError

from logtail.watches.counter import Alert
from logtail.watches.payloads import build
from logtail.watches.spec import DestinationSpec

HOSTILE = 'a"b\\c\n"injected": true, \r\x00 {{ 7*7 }} </script>'


def alert() -> Alert:
    return Alert("w-1-1", "w", 1_800_000_000.0, 2, 2, 60.0,
                 [{"log": "app", "text": HOSTILE, "id": "app=000000000000:10", "level": "error"}])


def dest(fmt: str, template: str = "", headers: tuple[tuple[str, str], ...] = ()) -> DestinationSpec:
    return DestinationSpec("d", "http://127.0.0.1:9/", fmt, template, headers)  # type: ignore[arg-type]


def test_json_is_the_alert() -> None:
    req = build(dest("json"), alert())
    body = json.loads(req.content)
    assert body["watch"] == "w" and body["count"] == 2 and body["lines"][0]["text"] == HOSTILE
    assert req.headers["Content-Type"] == "application/json"


def test_slack_discord_and_ntfy() -> None:
    assert HOSTILE in json.loads(build(dest("slack"), alert()).content)["text"]
    assert HOSTILE in json.loads(build(dest("discord"), alert()).content)["content"]
    ntfy = build(dest("ntfy"), alert())
    assert ntfy.headers["Title"] == "logtail: w" and HOSTILE.encode() in ntfy.content


def test_a_json_template_escapes_hostile_line_content() -> None:
    """A line holding quotes, a newline and `"injected": true` must not break the JSON or add a key."""
    template = '{"msg": "{{ watch }}: {{ lines[0].text }}", "n": {{ count }}}'
    body = json.loads(build(dest("template", template), alert()).content)
    assert body == {"msg": f"w: {HOSTILE}", "n": 2}


def test_tojson_still_gives_a_whole_value_and_text_templates_are_raw() -> None:
    body = json.loads(build(dest("template", '{"lines": {{ lines|tojson }}}'), alert()).content)
    assert body["lines"][0]["text"] == HOSTILE
    text = build(dest("template", "{{ count }} in {{ watch }}"), alert())
    assert text.content == b"2 in w" and text.headers["Content-Type"].startswith("text/plain")


def test_the_template_sandbox_refuses_internals() -> None:
    with pytest.raises(SecurityError):
        build(dest("template", "{{ alert.__class__.__mro__ }}"), alert())


def test_folded_alerts_are_reported() -> None:
    body = json.loads(build(dest("json"), alert(), {"alerts": 3, "matches": 40}).content)
    assert body["summarised"] == {"alerts": 3, "matches": 40}
    assert "3 earlier alerts, 40 matches" in json.loads(build(dest("slack"), alert(), {"alerts": 3,
                                                                                       "matches": 40}).content)["text"]
