"""The stream shortcut past FastAPI: it takes plainly valid requests and leaves the rest to FastAPI."""

from __future__ import annotations


def test_fast_path_and_fastapi_agree_on_what_is_valid() -> None:
    from logtail.config import Settings
    from logtail.fastpath import _parse
    from logtail.hub import Hub

    class Registry:
        def __contains__(self, name: str) -> bool:
            return name == "a"

    class State:
        settings = Settings()
        hub = Hub(10, 1024)
        registry = Registry()

    def parse(query: str, multi: bool = False) -> object:
        scope = {"query_string": query.encode(), "headers": []}
        return _parse(State(), scope, [] if multi else ["a"], multi)  # type: ignore[arg-type]

    assert parse("backlog=5&q=x&ignore_case=1&format=ndjson") is not None
    assert parse("log=a", multi=True) is not None
    for query in ("backlog=-1", "backlog=abc", "backlog=999999", "format=xml", "regex=(", "level=loud",
                  "ignore_case=maybe", "q=" + "x" * 1001, "q=a&q=b"):
        assert parse(query) is None, query
    assert parse("log=b", multi=True) is None
