"""The client's side of SSE, for tests: parse a stream's text into events the way a browser's EventSource does."""

from __future__ import annotations

from collections.abc import Iterator


def decode_events(stream: str) -> Iterator[dict[str, str]]:
    """Parse SSE text into events (dicts of field -> value) the way a browser does.

    Comments are skipped, `data` fields are joined with newlines, an unterminated last event is dropped.
    """
    event: dict[str, str] = {}
    data: list[str] = []
    lines = stream.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for line in lines[:-1]:  # the text after the last terminator is an incomplete line
        if line == "":
            if data or event:
                if data:
                    event["data"] = "\n".join(data)
                yield event
            event, data = {}, []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            else:
                event[name] = value
