"""What an alert looks like on the wire, per destination format.

- `json`: the alert as one JSON object (`Alert.to_json`, plus `summarised` when older alerts were folded in).
- `slack` (`{"text": ...}`), `discord` (`{"content": ...}`): a short message with the last matched lines.
- `ntfy`: the message as plain text, the watch in a `Title` header.
- `template`: the user's Jinja2 template, rendered in a sandbox (no attribute access to internals). When the
  body is JSON (a `Content-Type` header saying so, or a template starting with `{` or `[` that is not a Jinja2
  tag), every `{{ value }}`
  that is a string is JSON-escaped (without quotes): a log line holding `"` or `\n` cannot break the JSON or
  forge a key. `|tojson` still gives a complete JSON value. A template that fails when rendered (e.g. the
  sandbox refusing `__class__`) is a final delivery error, not retried.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any

from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from logtail.watches.counter import Alert
from logtail.watches.spec import DestinationSpec

MAX_TEXT = 1800  # Discord refuses content over 2000 characters


@dataclass(frozen=True)
class Request:
    content: bytes
    headers: dict[str, str]


def summary(alert: Alert) -> str:
    what = "test alert" if alert.test else f"{alert.count} matching line{'s' if alert.count != 1 else ''}"
    head = f"[logtail] watch {alert.watch}: {what}"
    if not alert.test:
        head += f" (threshold {alert.threshold} in {alert.window:g}s)"
    lines = [f"{line.get('log')}: {line.get('text')}" for line in alert.lines]
    text = "\n".join([head, *( [alert.note] if alert.note else []), *lines])
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def build(dest: DestinationSpec, alert: Alert, summarised: dict[str, int] | None = None) -> Request:
    body = alert.to_json()
    if summarised:
        body["summarised"] = summarised
    headers = dict(dest.headers)
    if dest.format == "json":
        content = json.dumps(body, ensure_ascii=False).encode()
        headers.setdefault("Content-Type", "application/json")
    elif dest.format in ("slack", "discord"):
        text = summary(alert) + (_folded(summarised) if summarised else "")
        content = json.dumps({"text" if dest.format == "slack" else "content": text}, ensure_ascii=False).encode()
        headers.setdefault("Content-Type", "application/json")
    elif dest.format == "ntfy":
        content = (summary(alert) + (_folded(summarised) if summarised else "")).encode()
        headers.setdefault("Title", f"logtail: {alert.watch}")
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
    else:
        as_json = _is_json(dest, headers)
        content = render_template(dest.template, body, as_json).encode()
        headers.setdefault("Content-Type", "application/json" if as_json else "text/plain; charset=utf-8")
    return Request(content, headers)


def _folded(summarised: dict[str, int]) -> str:
    return (f"\n(and {summarised['alerts']} earlier alerts, {summarised['matches']} matches, not sent one by one: "
            "the destination was slow or down)")


def _is_json(dest: DestinationSpec, headers: dict[str, str]) -> bool:
    given = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    if given is not None:
        return "json" in given.lower()
    start = dest.template.lstrip()
    return start.startswith(("{", "[")) and not start.startswith(("{{", "{%", "{#"))  # not a Jinja tag


def _json_escaped(value: Any) -> Any:
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return encode_basestring(value)[1:-1]


def render_template(template: str, alert: dict[str, Any], as_json: bool) -> str:
    env = SandboxedEnvironment(autoescape=False, finalize=_json_escaped if as_json else None)
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False}
    return env.from_string(template).render(alert=alert, lines=alert["lines"], watch=alert["watch"],
                                            count=alert["count"])
