"""The watches' state file: each log's evaluated position, each watch's counter and the alerts not yet
delivered, in `STATE_DIR/watches.json`.

Written whole to a temporary file, flushed to disk and renamed over the old one (a crash leaves the old or
the new file, never half of one), in a worker thread: the event loop never waits on the disk.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from logtail.core.offloop import off_loop

log = logging.getLogger(__name__)
FILE_NAME = "watches.json"
VERSION = 1


class StateFile:
    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME

    def load(self) -> dict[str, Any]:
        """The saved state, or an empty one (first start, or a file this version cannot read)."""
        try:
            data = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("%s: cannot read the watches' state (%s); starting from the current positions",
                        self.path, exc)
            return {}
        if not isinstance(data, dict) or data.get("version") != VERSION:
            return {}
        return data

    async def save(self, state: dict[str, Any]) -> None:
        # Encoded here: json's C encoder holds the GIL, so in a worker thread it would stall the loop as long.
        data = json.dumps({"version": VERSION, **state}, separators=(",", ":")).encode()
        await off_loop(self.write, data)

    def write(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
