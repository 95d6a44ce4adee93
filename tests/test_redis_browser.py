"""The dashboard with shipped logs: grouped by host in the list, each merged line tagged with its host."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser_support import browser, open_dashboard, page, serve, texts, wait_last  # noqa: F401
from tests.redis_support import RedisServer, Shipper, listed
from tests.streams import append
from tests.support import LogtailServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_logs_are_grouped_by_host_and_merged_lines_tagged_with_it(
        page: Page, serve: Callable[..., LogtailServer], tmp_path: Path,  # noqa: F811
        redis_server: RedisServer, start_shipper: Callable[..., Shipper]) -> None:
    local = tmp_path / "local.log"
    local.write_text("")
    for host in ("web2", "web1"):
        (tmp_path / host).mkdir()
        (tmp_path / host / "app.log").write_text("")
        start_shipper(str(tmp_path / host / "app.log"), "--host-name", host, "--redis", redis_server.url)
    server = serve(str(local), "--redis", redis_server.url)
    listed(server, "app.log@web1", "app.log@web2")
    open_dashboard(page, server, "log=app.log@web1&log=app.log@web2&log=local.log")
    expect(page.locator("#log-list > li.host-group")).to_have_count(2)
    groups = page.locator("#log-list > li.host-group .host-name").all_text_contents()
    assert groups == ["web1", "web2"]
    assert page.locator("#log-list > li.log-item").all_text_contents()[0].startswith("local.log")
    expect(page.locator('li.host-group[data-host="web1"] li.log-item[data-name="app.log@web1"]')).to_have_count(1)
    append(tmp_path / "web1" / "app.log", ["from web1"])
    wait_last(page, "from web1")
    append(tmp_path / "web2" / "app.log", ["from web2"])
    wait_last(page, "from web2")
    append(local, ["from here"])
    wait_last(page, "from here")
    assert texts(page) == ["from web1", "from web2", "from here"]
    tags = page.locator("#panes .line .tag")
    assert tags.all_text_contents() == ["app.log@web1", "app.log@web2", "local.log"]
    assert [tags.nth(i).get_attribute("data-host") for i in range(3)] == ["web1", "web2", None]
