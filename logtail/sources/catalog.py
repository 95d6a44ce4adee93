"""The sources a node serves, and the one list that says which kinds of source there are.

`FACTORIES` maps each kind to the function that builds it from the settings (or None when the settings ask
for none of it); adding a kind of source is a subpackage with such a function and one line here.
"""

from __future__ import annotations

from collections.abc import Callable

from logtail.config import Settings
from logtail.core.hub import Hub
from logtail.sources.base import Source, Sources
from logtail.sources.files import source as files
from logtail.sources.journal import source as journal
from logtail.sources.redis import source as redis

Factory = Callable[[Settings, Hub], Source | None]

FACTORIES: dict[str, Factory] = {
    "files": files.configure,
    "redis": redis.configure,
    "journal": journal.configure,
}


def build_sources(settings: Settings, hub: Hub) -> Sources:
    built = (factory(settings, hub) for factory in FACTORIES.values())
    return Sources([source for source in built if source is not None])
