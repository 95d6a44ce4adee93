"""Where the templates and static files are: inside the installed package, or at the repository's top.

The wheel carries them as `logtail/templates` and `logtail/static` (see pyproject.toml); a source checkout
or editable install keeps them beside the package.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    for candidate in (PACKAGE / name, PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"logtail resource directory {name!r} not found beside {PACKAGE}")
