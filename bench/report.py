"""A bench's report: JSON on stdout, and in a file too when asked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def emit(report: dict[str, Any], path: str | Path | None) -> int:
    """The report on stdout, and in `path` too if given; 0, the command's exit status."""
    text = json.dumps(report, indent=2)
    print(text)
    if path:
        Path(path).write_text(text + "\n")
    return 0
