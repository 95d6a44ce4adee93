"""The order in which modules are handed to pytest-xdist's workers: the longest first.

`scripts/test` runs each module on one worker (`--dist loadfile`) and hands modules out in collection order
(`--no-loadscope-reorder`; xdist's own order, most tests first, put modules of five browser tests at the end).
A long module handed out last keeps one worker busy while the others have finished: with the longest first,
the run ends on short ones. A module not listed keeps its place after the listed ones; a stale list only
costs balance, never a test.
"""

from __future__ import annotations

import pytest

# Modules that took 35 s or more of one worker, longest first (a `--durations` run with `--junitxml`,
# summed per module, on a 2-core VM).
LONGEST_FIRST = [
    "test_parity", "test_history", "test_browser", "test_resume_restart", "test_hosts_browser",
    "test_catchup", "test_server", "test_keyboard_browser", "test_auth", "test_schema", "test_watches_browser",
    "test_page_layout_browser", "test_misbehaving_files", "test_since", "test_slow_clients",
    "test_fields_browser", "test_watches", "test_access_http", "test_redis_cluster", "test_fuzz",
    "test_watch_restart", "test_hostile_small", "test_journal_server", "test_redis_reader", "test_nginx",
    "test_parsed_logs", "test_a11y_browser",
]
RANK = {name: i for i, name in enumerate(LONGEST_FIRST)}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A stable sort: the tests of a module keep their order, and the modules not listed theirs.
    items.sort(key=lambda item: RANK.get(item.path.stem, len(RANK)))
