// The sidebar: the logs the server lists, each with a checkbox to pick it, its size, a badge when it is
// missing or unknown, a download link and "clear from the view". Logs shipped from other hosts are grouped
// under their host, with its state (hostgroups.js); a filter box narrows the list (logfilter.js). The list
// is fetched again every few seconds, so a newly shipped log shows up. Items are found through maps, not
// selectors, and written only where they changed: a list of 1,000 logs costs little to refresh.

import { colourClass } from "./colours.js";
import { HostGroups } from "./hostgroups.js";
import { LogFilter } from "./logfilter.js";
import { config, debounce, downloadLink, el, humanSize } from "./page.js";

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
    this.items = new Map(); // log name -> its <li>
    this.hosts = new HostGroups(this.list);
    this.filter = new LogFilter(document.getElementById("log-filter"), this.list);
    const picked = debounce(() => this.selectionChanged(), SELECTION_DEBOUNCE_MS);
    this.list.addEventListener("change", (e) => { if (e.target.matches('input[type="checkbox"]')) picked(); });
  }

  /** Fetch the list again every few seconds, and when the tab is shown again. */
  startRefreshing() {
    setInterval(() => this.refresh(), REFRESH_MS);
    document.addEventListener("visibilitychange", () => { if (!document.hidden) this.refresh(); });
    this.hosts.refresh();
  }

  /** A notice of the stream: a host that went down or came back is shown so at once. */
  notice(data) {
    if (data?.kind === "host_down" || data?.kind === "host_up") this.hosts.refresh();
  }

  async refresh() {
    try {
      const res = await fetch(`${config.root}/api/logs`, { cache: "no-store", headers: { Accept: "application/json" } });
      if (!res.ok) return;
      const list = await res.json();
      if (!Array.isArray(list)) return;
      this.render(list);
      this.hosts.refresh();
      this.handlers.onListed();
    } catch {
      // the status indicator already tells about a server that is down
    }
  }

  /** Show the server's list of logs ({name, path, size, exists, mtime, host?}). */
  render(list) {
    const seen = new Set();
    const selected = new Set(this.state.logs);
    // By name, so that a group's logs (and the logs first listed) are in order; later ones go at the end.
    const named = list.filter((log) => log && typeof log.name === "string");
    named.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const log of named) {
      seen.add(log.name);
      this.logs.set(log.name, log);
      let item = this.items.get(log.name);
      if (!item) {
        item = this.add(log.name);
        this.listFor(log.host).append(item);
        shortenUnderHost(item, log.host);
      }
      this.update(item, log, selected);
    }
    // Selected logs the server does not list (yet): shown so they can be unticked.
    for (const name of this.state.logs) {
      if (seen.has(name)) continue;
      this.logs.delete(name);
      const item = this.items.get(name) ?? this.add(name);
      if (!item.isConnected) this.list.append(item);
      this.update(item, null, selected);
    }
    for (const [name, item] of this.items) {
      if (seen.has(name) || selected.has(name)) continue;
      item.remove();
      this.items.delete(name);
    }
    this.hosts.prune();
    this.count.textContent = `${seen.size}`;
    if (this.filter.query) this.filter.apply();
  }

  add(name) {
    const item = logItem(name);
    this.items.set(name, item);
    return item;
  }

  itemOf(name) {
    return this.items.get(name) ?? null;
  }

  // Logs shipped from other hosts (NAME@HOST, with a `host` field) are grouped under their host's name;
  // this server's own files stay at the top of the list.
  listFor(host) {
    if (typeof host !== "string" || !host) return this.list;
    return this.hosts.listOf(host);
  }

  update(item, log, selected) {
    const picked = selected.has(item.dataset.name);
    const box = item.querySelector("input");
    if (box.checked !== picked) box.checked = picked;
    item.classList.toggle("selected", picked);
    setText(item.querySelector(".log-size"), humanSize(log?.size));
    const title = log?.path ?? "not known to the server";
    const label = item.querySelector(".log-pick");
    if (label.title !== title) label.title = title;
    const badge = item.querySelector(".badge");
    setText(badge, !log ? "unknown" : log.exists === false ? "missing" : "");
    badge.hidden = !badge.textContent;
  }

  /** The swatches again, after the logs of the view (and so their colours) changed. */
  recolour() {
    for (const item of this.items.values()) {
      const swatch = item.querySelector(".swatch");
      const cls = `swatch ${colourClass(item.dataset.name)}`;
      if (swatch.className !== cls) swatch.className = cls;
    }
  }

  selectionChanged() {
    const ticked = [...this.list.querySelectorAll("input:checked")].map((box) => box.value);
    const picked = new Set(ticked);
    for (const item of this.items.values()) item.classList.toggle("selected", picked.has(item.dataset.name));
    this.handlers.onSelect(ticked);
  }
}

// Under its host's heading a shipped log is named without its "@HOST" (the whole name is its title).
function shortenUnderHost(item, host) {
  const suffix = `@${host}`;
  const name = item.dataset.name;
  if (typeof host !== "string" || !host || !name.endsWith(suffix) || name === suffix) return;
  const label = item.querySelector(".log-name");
  label.textContent = name.slice(0, -suffix.length);
  label.title = name;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
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
