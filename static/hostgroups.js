// The sidebar's host groups: logs shipped from other hosts (NAME@HOST) are listed under their host, each
// group collapsible (remembered while the page is open) and showing the host's state from GET /api/hosts:
// alive, silent (missed heartbeats) or gone (stopped, or silent past --host-gone-after). The state is
// polled with the list of logs, and fetched again at once when a stream says a host went down or came back.

import { config, el } from "./page.js";

export class HostGroups {
  /** @param {HTMLElement} list  the sidebar's list: local logs first, then one group per host */
  constructor(list) {
    this.list = list;
    this.groups = new Map(); // host -> its <li class="host-group">
    this.collapsed = new Set(); // hosts the user folded away
    this.states = new Map(); // host -> {state, last_seen, version} from /api/hosts
    this.fetching = null;
    list.addEventListener("click", (e) => {
      const button = e.target instanceof Element ? e.target.closest(".host-toggle") : null;
      if (button) this.toggle(button.closest("li.host-group"));
    });
  }

  /** The <ul> a log of `host` goes in, its group made (in host order) on first use. */
  listOf(host) {
    let group = this.groups.get(host);
    if (!group) {
      group = hostGroup(host);
      this.groups.set(host, group);
      const next = [...this.groups.keys()].filter((h) => h > host).sort()[0];
      this.list.insertBefore(group, next === undefined ? null : this.groups.get(next));
      this.setCollapsed(group, this.collapsed.has(host));
      this.showState(group);
    }
    return group.querySelector("ul");
  }

  /** Forget the groups left without logs. */
  prune() {
    for (const [host, group] of this.groups) {
      if (group.querySelector("li.log-item")) continue;
      group.remove();
      this.groups.delete(host);
    }
  }

  toggle(group) {
    const host = group.dataset.host;
    if (this.collapsed.has(host)) this.collapsed.delete(host);
    else this.collapsed.add(host);
    this.setCollapsed(group, this.collapsed.has(host));
  }

  setCollapsed(group, collapsed) {
    group.classList.toggle("collapsed", collapsed);
    group.querySelector(".host-toggle").setAttribute("aria-expanded", String(!collapsed));
  }

  /** Fetch the hosts' states (one request at a time) and show them beside their groups. */
  refresh() {
    this.fetching ??= this.fetchStates().finally(() => { this.fetching = null; });
    return this.fetching;
  }

  async fetchStates() {
    try {
      const res = await fetch(`${config.root}/api/hosts`, { cache: "no-store", headers: { Accept: "application/json" } });
      if (!res.ok) return; // 503 while Redis is unreachable: the badge says so, the states stay as they were
      const hosts = await res.json();
      if (!Array.isArray(hosts)) return;
      this.states = new Map(hosts.filter((h) => typeof h?.host === "string").map((h) => [h.host, h]));
      for (const group of this.groups.values()) this.showState(group);
    } catch {
      // the server is away: the status badge tells
    }
  }

  showState(group) {
    const info = this.states.get(group.dataset.host);
    const badge = group.querySelector(".host-state");
    const state = typeof info?.state === "string" ? info.state : "";
    if (badge.dataset.state === state) return;
    badge.dataset.state = state;
    badge.textContent = state;
    badge.hidden = !state;
    group.dataset.state = state;
    const seen = Number(info?.last_seen);
    badge.title = Number.isFinite(seen) ? `last heartbeat ${new Date(seen * 1000).toLocaleString()}` : "";
  }
}

function hostGroup(host) {
  const group = el("li", "host-group");
  group.dataset.host = host;
  const head = el("h3", "host-head");
  const toggle = el("button", "host-toggle");
  toggle.type = "button";
  toggle.append(el("span", "host-caret"), el("span", "host-name", host));
  const state = el("span", "host-state");
  state.hidden = true;
  head.append(toggle, state);
  group.append(head, el("ul", "log-list"));
  return group;
}
