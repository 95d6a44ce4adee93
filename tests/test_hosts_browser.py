"""The page with many hosts, in Debian's headless Chromium against real web nodes, real shippers and a real
redis-server: host groups with their state from /api/hosts (a stopped shipper is visibly stopped), folding a
group, the filter of logs, the status badge during a Redis outage, and a sidebar of 100 hosts x 10 logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from logtail.sources.redis import keys
from logtail.sources.redis.hosts import heartbeat_fields
from tests.browser_support import browser, open_dashboard, page, serve, texts, wait_last
from tests.redis_support import RedisServer, Shipper, listed, wait_shipped
from tests.streams import append
from tests.support import LogtailServer

__all__ = ["browser", "page", "serve"]  # fixtures used here by name

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BEAT = 1.0  # the shippers' --host-heartbeat: "silent" after 2.5 of them


def state_of(pg: Page, host: str) -> str | None:
    return pg.locator(f'li.host-group[data-host="{host}"] .host-state').get_attribute("data-state")


def two_hosts(tmp_path: Path, redis: RedisServer, start_shipper: Callable[..., Shipper],
              serve: Callable[..., LogtailServer], *node_args: str) -> tuple[dict[str, Shipper], LogtailServer]:
    shippers = {}
    for host in ("web1", "web2"):
        (tmp_path / host).mkdir()
        for name in ("app.log", "db.log"):
            (tmp_path / host / name).write_text("")
        shippers[host] = start_shipper(str(tmp_path / host / "app.log"), str(tmp_path / host / "db.log"),
                                       "--host-name", host, "--host-heartbeat", str(BEAT), "--redis", redis.url)
    server = serve("--redis", redis.url, *node_args)
    listed(server, "app.log@web1", "db.log@web1", "app.log@web2", "db.log@web2")
    return shippers, server


def test_host_groups_show_each_hosts_state_and_a_stopped_shipper_is_visibly_stopped(
        page: Page, serve: Callable[..., LogtailServer], tmp_path: Path,
        redis_server: RedisServer, start_shipper: Callable[..., Shipper]) -> None:
    shippers, server = two_hosts(tmp_path, redis_server, start_shipper, serve)
    open_dashboard(page, server, "log=app.log@web1&log=app.log@web2")
    expect(page.locator('li.host-group[data-host="web1"] .host-state')).to_have_text("alive")
    expect(page.locator('li.host-group[data-host="web2"] .host-state')).to_have_text("alive")
    shippers["web2"].stop()  # a clean stop: gone at its next poll
    stopped = time.monotonic()
    expect(page.locator('li.host-group[data-host="web2"] .host-state')).to_have_text("gone", timeout=20_000)
    shippers["web1"].kill()  # SIGKILL: no word from it; silent after 2.5 missed heartbeats
    killed = time.monotonic()
    expect(page.locator('li.host-group[data-host="web1"] .host-state')).to_have_text("silent", timeout=20_000)
    # Within ~2 heartbeats of the host's own judgement (the node's poll and the page's, 5 s, on top).
    assert time.monotonic() - killed < 2.5 * BEAT + 2 * 5 + 5 and killed - stopped < 5 + 5
    assert page.locator('li.host-group[data-host="web1"]').get_attribute("data-state") == "silent"


def test_groups_fold_and_the_filter_narrows_the_list_by_log_and_host(
        page: Page, serve: Callable[..., LogtailServer], tmp_path: Path,
        redis_server: RedisServer, start_shipper: Callable[..., Shipper]) -> None:
    _, server = two_hosts(tmp_path, redis_server, start_shipper, serve)
    open_dashboard(page, server, "log=app.log@web1")
    items = page.locator("#log-list li.log-item:visible")
    expect(items).to_have_count(4)
    # In order, and without the "@HOST" their heading already says.
    expect(page.locator('li.host-group[data-host="web2"] .log-name')).to_have_text(["app.log", "db.log"])
    toggle = page.locator('li.host-group[data-host="web1"] .host-toggle')
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(items).to_have_count(2)  # web1's two logs folded away
    toggle.click()
    expect(items).to_have_count(4)

    page.locator("#panes .pane-body").first.focus()
    page.keyboard.press("l")
    expect(page.locator("#log-filter")).to_be_focused()
    page.keyboard.type("web2")
    expect(items).to_have_count(2)
    assert page.locator("#log-list li.host-group:visible").evaluate_all("(gs) => gs.map((g) => g.dataset.host)") == [
        "web2"]
    page.locator("#log-filter").fill("DB.LOG")  # by log name, case ignored: one log per host
    expect(items).to_have_count(2)
    assert items.evaluate_all("(xs) => xs.map((x) => x.dataset.name)") == ["db.log@web1", "db.log@web2"]
    page.keyboard.press("Escape")  # empties the filter
    expect(items).to_have_count(4)
    page.locator('li.log-item[data-name="app.log@web1"] input').focus()
    page.keyboard.press("/")  # in the sidebar, "/" is the filter of logs
    expect(page.locator("#log-filter")).to_be_focused()


def test_the_badge_says_redis_unreachable_during_an_outage_and_live_after(
        page: Page, serve: Callable[..., LogtailServer], tmp_path: Path,
        redis_server: RedisServer, start_shipper: Callable[..., Shipper]) -> None:
    log = tmp_path / "app.log"
    log.write_text("")
    start_shipper(str(log), "--host-name", "web1", "--redis", redis_server.url)
    server = serve("--redis", redis_server.url)
    listed(server, "app.log@web1")
    open_dashboard(page, server, "log=app.log@web1")
    status = page.locator("#status")
    append(log, ["before"])
    wait_last(page, "before")
    redis_server.stop()
    expect(status).to_have_attribute("data-state", "unreachable", timeout=20_000)
    expect(page.locator("#status-text")).to_have_text("Redis unreachable")
    expect(page.locator("#panes .notice-unreachable.sev-error")).to_have_count(1)
    page.reload()  # a page opened during the outage hears of it at once
    expect(status).to_have_attribute("data-state", "unreachable", timeout=20_000)
    redis_server.start()
    expect(status).to_have_attribute("data-state", "live", timeout=30_000)
    expect(page.locator("#status-text")).to_have_text("live")
    append(log, ["after"])
    wait_last(page, "after", timeout=30_000)


def test_the_merged_backlog_is_in_the_order_the_lines_were_written_not_log_after_log(
        page: Page, serve: Callable[..., LogtailServer], tmp_path: Path,
        redis_server: RedisServer, start_shipper: Callable[..., Shipper]) -> None:
    local = tmp_path / "local.log"  # no Redis entry: ordered by the time at the start of its lines
    local.write_text("")
    _, server = two_hosts(tmp_path, redis_server, start_shipper, serve, str(local))
    written: list[str] = []
    for i in range(3):
        for host in ("web2", "web1"):
            line = f"{host} line {i}"
            append(tmp_path / host / "app.log", [line])
            wait_shipped(redis_server, host, "app.log", [f"{host} line {j}" for j in range(i + 1)])
            written.append(line)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 60))
    append(local, [f"{stamp}Z local, a minute ahead"])
    open_dashboard(page, server, "log=app.log@web1&log=app.log@web2&log=local.log")
    wait_last(page, f"{stamp}Z local, a minute ahead")
    expect(page.locator("#panes .line")).to_have_count(len(written) + 1)
    assert texts(page) == [*written, f"{stamp}Z local, a minute ahead"]


HOSTS, LOGS_PER_HOST = 100, 10
FIRST_PAINT_JS = "() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"
# Scrolls the sidebar to its end in steps of one screen, one step per frame; the longest frame in ms.
SCROLL_JS = """async () => {
  const bar = document.getElementById('sidebar');
  let last = performance.now(), longest = 0, steps = 0;
  while (bar.scrollTop + bar.clientHeight < bar.scrollHeight - 2 && steps < 2000) {
    bar.scrollTop += bar.clientHeight;
    await new Promise((ok) => requestAnimationFrame(ok));
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    steps++;
  }
  return {longest, steps, bottom: bar.scrollTop + bar.clientHeight >= bar.scrollHeight - 2};
}"""


def fill_many_hosts(redis: RedisServer) -> None:
    """100 hosts x 10 logs, as their shippers would have left them: registry, one line each, heartbeats."""
    now = time.time()
    client = redis.client()
    pipe = client.pipeline(transaction=False)
    for h in range(HOSTS):
        host = f"web{h:03d}"
        logs = {}
        for n in range(LOGS_PER_HOST):
            name = f"svc{n}.log"
            path = f"/var/log/{name}"
            pipe.hset(keys.LOGS_KEY, keys.shipped_name(host, name), keys.registry_value(host, name, path, now))
            pipe.xadd(keys.stream_key(host, name), keys.line_fields([f"{name} on {host}"], [], "1", 10))
            logs[name] = {"path": path, "last_write": now, "lag": 0}
        pipe.hset(keys.host_key(host), mapping=heartbeat_fields("test", now, 3600, logs, now))
    pipe.execute()


def test_a_sidebar_of_100_hosts_by_10_logs_paints_scrolls_and_filters(
        page: Page, serve: Callable[..., LogtailServer], redis_server: RedisServer) -> None:
    fill_many_hosts(redis_server)
    server = serve("--redis", redis_server.url)
    listed(server, *(f"svc{n}.log@web{h:03d}" for h in range(HOSTS) for n in range(LOGS_PER_HOST)))
    page.goto(f"{server.url}/#log=svc0.log@web000")
    expect(page.locator("#log-list li.log-item")).to_have_count(HOSTS * LOGS_PER_HOST)
    expect(page.locator("#log-list li.host-group")).to_have_count(HOSTS)
    expect(page.locator("#status")).to_have_attribute("data-state", "live")
    first_paint = page.evaluate(FIRST_PAINT_JS)
    print(f"first paint with {HOSTS * LOGS_PER_HOST} logs listed: {first_paint} ms")
    assert first_paint is not None and first_paint < 3000, f"first paint after {first_paint} ms"  # target 1 s
    expect(page.locator('li.host-group[data-host="web050"] .host-state')).to_have_text("alive")
    scroll = page.evaluate(SCROLL_JS)
    assert scroll["bottom"] and scroll["steps"] > 10, scroll
    assert scroll["longest"] < 750, f"a frame of {scroll['longest']:.0f} ms while scrolling the list"  # generous
    page.locator("#log-filter").fill("web042")
    expect(page.locator("#log-list li.log-item:visible")).to_have_count(LOGS_PER_HOST)
    page.locator("#log-filter").fill("svc3.log")
    expect(page.locator("#log-list li.log-item:visible")).to_have_count(HOSTS)
