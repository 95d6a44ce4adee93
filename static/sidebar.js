// The sidebar: the logs the server lists, each with a checkbox to pick it, its size, a badge when it is
// missing or unknown, a download link and "clear from the view". Logs shipped from other hosts are grouped
// under their host. The list is fetched again every few seconds, so a newly shipped log shows up.

import { config, debounce, downloadLink, el, humanSize } from "./page.js";
import { colourClass } from "./colours.js";

const REFRESH_MS = 5000; // a log shipped for the first time shows up within seconds
const SELECTION_DEBOUNCE_MS = 150;

export class Sidebar {
  /**
   * @param {{logs: string[]}} state  the view state: the selected logs
   * @param {Map<string, object>} logs  the logs the server lists, by name: kept up to date here
   * @param {{onSelect: Function, onListed: Function}} handlers  onSelect(names) when the user ticks or
   *   unticks a log; onListed() after a fresh list from the server was shown
   */
  constructor(state, logs, handlers) {
    this.state = state;
    this.logs = logs;
    this.handlers = handlers;
    this.list = document.getElementById("log-list");
    this.count = document.getElementById("log-count");
    const picked = debounce(() => this.selectionChanged(), SELECTION_DEBOUNCE_MS);
    this.list.addEventListener("change", (e) => { if (e.target.matches('input[type="checkbox"]')) picked(); });
  }

  /** Fetch the list again every few seconds, and when the tab is shown again. */
  startRefreshing() {
    setInterval(() => this.refresh(), REFRESH_MS);
    document.addEventListener("visibilitychange", () => { if (!document.hidden) this.refresh(); });
  }

  async refresh() {
    try {
      const res = await fetch(`${config.root}/api/logs`, { cache: "no-store", headers: { Accept: "application/json" } });
      if (!res.ok) return;
      const list = await res.json();
      if (!Array.isArray(list)) return;
      this.render(list);
      this.handlers.onListed();
    } catch {
      // the status indicator already tells about a server that is down
    }
  }

  /** Show the server's list of logs ({name, path, size, exists, mtime, host?}). */
  render(list) {
    const seen = new Set();
    for (const log of list) {
      if (!log || typeof log.name !== "string") continue;
      seen.add(log.name);
      this.logs.set(log.name, log);
      let item = this.itemOf(log.name);
      if (!item) {
        item = logItem(log.name);
        this.listFor(log.host).append(item);
      }
      this.update(item, log);
    }
    // Selected logs the server does not list (yet): shown so they can be unticked.
    for (const name of this.state.logs) {
      if (seen.has(name)) continue;
      this.logs.delete(name);
      const item = this.itemOf(name) ?? logItem(name);
      if (!item.isConnected) this.list.append(item);
      this.update(item, null);
    }
    for (const item of this.list.querySelectorAll("li.log-item")) {
      if (!seen.has(item.dataset.name) && !this.state.logs.includes(item.dataset.name)) item.remove();
    }
    for (const group of this.list.querySelectorAll("li.host-group")) {
      if (!group.querySelector("li.log-item")) group.remove();
    }
    this.count.textContent = `${seen.size}`;
  }

  itemOf(name) {
    return this.list.querySelector(`li[data-name="${CSS.escape(name)}"]`);
  }

  // Logs shipped from other hosts (NAME@HOST, with a `host` field) are grouped under their host's name;
  // this server's own files stay at the top of the list.
  listFor(host) {
    if (typeof host !== "string" || !host) return this.list;
    let group = this.list.querySelector(`li.host-group[data-host="${CSS.escape(host)}"]`);
    if (!group) {
      group = el("li", "host-group");
      group.dataset.host = host;
      group.append(el("h3", "host-name", host), el("ul", "log-list"));
      const groups = [...this.list.querySelectorAll("li.host-group")];
      const next = groups.find((g) => g.dataset.host > host);
      this.list.insertBefore(group, next ?? null);
    }
    return group.querySelector("ul");
  }

  update(item, log) {
    const selected = this.state.logs.includes(item.dataset.name);
    item.querySelector("input").checked = selected;
    item.classList.toggle("selected", selected);
    item.querySelector(".swatch").className = `swatch ${colourClass(item.dataset.name)}`;
    item.querySelector(".log-pick").title = log?.path ?? "not known to the server";
    item.querySelector(".log-size").textContent = humanSize(log?.size);
    const badge = item.querySelector(".badge");
    badge.textContent = !log ? "unknown" : log.exists === false ? "missing" : "";
    badge.hidden = !badge.textContent;
  }

  /** The swatches again, after the logs of the view (and so their colours) changed. */
  recolour() {
    for (const item of this.list.querySelectorAll("li.log-item")) {
      item.querySelector(".swatch").className = `swatch ${colourClass(item.dataset.name)}`;
    }
  }

  selectionChanged() {
    const ticked = [...this.list.querySelectorAll("input:checked")].map((box) => box.value);
    for (const item of this.list.querySelectorAll("li.log-item")) item.classList.toggle("selected", ticked.includes(item.dataset.name));
    this.handlers.onSelect(ticked);
  }
}

function logItem(name) {
  const item = el("li", "log-item");
  item.dataset.name = name;
  const label = el("label", "log-pick");
  const box = el("input");
  box.type = "checkbox";
  box.value = name;
  label.append(box, el("span", `swatch ${colourClass(name)}`), el("span", "log-name", name));
  const meta = el("span", "log-meta");
  meta.append(el("span", "log-size"), el("span", "badge"));
  const clear = el("button", "icon-link log-clear", "⌫");
  clear.type = "button";
  clear.dataset.action = "clear";
  clear.dataset.log = name;
  clear.title = `Clear ${name} from the view`;
  clear.setAttribute("aria-label", `Clear ${name} from the view`);
  item.append(label, meta, downloadLink(name), clear);
  return item;
}
