// History for the dashboard, from the server's /api/logs/{name}/search (NDJSON):
// - scroll-back: scrolling to the top of a pane (or its "Load older lines" button) prepends older lines,
//   page by page, into rotated files too, with the pane's filter; the pane stops following meanwhile
//   (live lines are held by the pane, not lost) and its DOM cap holds: lines pushed out at the bottom go
//   back to the pane's queue and come back on "jump to bottom";
// - the search panel (templates/_search.html): results streamed with a progress bar, more pages, and each
//   result shown in context (the lines around it, wherever they are in the files).
// It hooks into app.js through the "logtail:view" event (and window.logtail.view): the panes, the logs
// each shows and the filter. Log text reaches the page only through render.js (text nodes).

import { el, humanSize } from "./page.js";
import { filterParams } from "./query.js";
import { buildLine, makeMatcher } from "./render.js";

const PAGE_LINES = 200;
const CONTEXT_LINES = 10;
const RESULTS_PAGE = 200;

// ---- the search endpoint --------------------------------------------------------------------------------

/** Run a search; `onObject` gets every NDJSON object as it arrives. Resolves to the final `done` object. */
async function search(root, log, params, signal, onObject) {
  const res = await fetch(`${root}/api/logs/${encodeURIComponent(log)}/search?${params}`, {
    signal, headers: { Accept: "application/x-ndjson" },
  });
  if (!res.ok) {
    let detail = `HTTP ${res.status}`;
    try {
      const body = await res.json();
      if (typeof body.detail === "string") detail = body.detail;
    } catch {
      // not JSON: keep the status
    }
    throw new Error(detail);
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let done = null;
  const take = (line) => {
    if (!line.trim()) return;
    const obj = JSON.parse(line);
    if (obj.event === "done") done = obj;
    onObject(obj);
  };
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) break;
    buffer += decoder.decode(chunk.value, { stream: true });
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      take(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
  }
  take(buffer + decoder.decode());
  if (!done) throw new Error("the search was cut short");
  return done;
}

async function collect(root, log, params, signal) {
  const hits = [];
  const done = await search(root, log, params, signal, (obj) => { if (!obj.event) hits.push(obj); });
  return { hits, done };
}

// ---- scroll-back in the panes ---------------------------------------------------------------------------

class ScrollBack {
  constructor(pane, logs, view, signal) {
    this.pane = pane;
    this.logs = logs;
    this.view = view;
    this.signal = signal;
    this.loading = false;
    this.exhausted = new Set(); // logs whose beginning (of the oldest rotated file) is shown
    this.bar = el("div", "history-bar");
    this.button = el("button", "btn btn-small", "Load older lines");
    this.button.type = "button";
    this.status = el("span", "history-status muted");
    this.bar.append(this.button, this.status);
    pane.putAboveLines(this.bar);
    this.button.addEventListener("click", () => this.load());
    pane.onOlderWanted(() => this.load()); // the pane judges when the user scrolls up for them
  }

  async load() {
    const logs = this.logs.filter((log) => !this.exhausted.has(log));
    if (this.loading || logs.length === 0) return;
    this.loading = true;
    this.pane.stopFollowing();
    this.setStatus("Loading older lines…");
    try {
      const blocks = [];
      for (const log of logs) {
        const params = filterParams(this.view.filter);
        params.set("order", "newest");
        params.set("limit", String(PAGE_LINES));
        params.set("rotated", "1");
        const oldest = this.pane.oldestId(log);
        if (oldest) params.set("before", oldest); // none yet: the newest matching lines of the log
        const { hits, done } = await collect(this.view.root, log, params, this.signal);
        if (this.pane.oldestId(log) !== oldest) continue; // the pane changed meanwhile: this page is stale
        if (!done.truncated) this.exhausted.add(log);
        const shown = this.pane.shownIds();
        blocks.push({ log, hits: hits.reverse().filter((hit) => !shown.has(hit.id)), beginning: !done.truncated });
      }
      this.prepend(blocks);
      this.setStatus("");
    } catch (err) {
      if (err.name !== "AbortError") this.setStatus(`Could not load older lines: ${err.message}`);
    } finally {
      this.loading = false;
    }
  }

  setStatus(text) {
    const left = this.logs.filter((log) => !this.exhausted.has(log));
    this.button.hidden = left.length === 0;
    this.status.textContent = text || (left.length === 0 ? "Beginning of the log (and its rotated files)" : "");
  }

  prepend(blocks) {
    const items = [];
    for (const { log, hits, beginning } of blocks) {
      if (beginning) items.push({ kind: "marker", message: `beginning of ${log}` });
      if (this.logs.length > 1 && hits.length) items.push({ kind: "marker", message: `older lines of ${log}` });
      for (const hit of hits) items.push({ kind: "line", data: hit });
    }
    this.pane.prependItems(items, "chunk history-chunk");
  }
}

// ---- the search panel -----------------------------------------------------------------------------------

class SearchPanel {
  constructor(panel) {
    const $ = (id) => document.getElementById(id);
    this.panel = panel;
    this.form = $("hs-form");
    this.log = $("hs-log");
    this.q = $("hs-q");
    this.regex = $("hs-regex");
    this.ignoreCase = $("hs-ignore-case");
    this.level = $("hs-level");
    this.order = $("hs-order");
    this.rotated = $("hs-rotated");
    this.stop = $("hs-stop");
    this.progress = $("hs-progress");
    this.status = $("hs-status");
    this.results = $("hs-results");
    this.more = $("hs-more");
    this.root = document.body.dataset.root || "";
    this.controller = null;
    this.query = null; // the running or last search: {log, params, order, matcher, found, lastId}
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.start();
    });
    this.stop.addEventListener("click", () => this.abort());
    this.more.addEventListener("click", () => this.run());
    this.results.addEventListener("click", (e) => this.onResultClick(e));
    panel.addEventListener("toggle", () => {
      if (panel.open) {
        this.refreshLogs();
        this.q.focus();
      } else {
        this.abort();
      }
    });
  }

  setView(view) {
    this.root = view.root;
    const shown = view.panes.flatMap((p) => p.logs);
    if (shown.length && !this.query && [...this.log.options].some((o) => o.value === shown[0])) {
      this.log.value = shown[0];
    }
  }

  async refreshLogs() {
    try {
      const res = await fetch(`${this.root}/api/logs`, { cache: "no-store" });
      const list = res.ok ? await res.json() : [];
      const current = this.log.value;
      const names = list.map((log) => log.name).filter((name) => typeof name === "string");
      if (names.join("\n") === [...this.log.options].map((o) => o.value).join("\n")) return;
      this.log.replaceChildren(...names.map((name) => {
        const option = el("option", "", name);
        option.value = name;
        return option;
      }));
      if (names.includes(current)) this.log.value = current;
    } catch {
      // keep the list the page came with
    }
  }

  start() {
    this.abort();
    const q = this.q.value;
    const params = filterParams({ q, regex: this.regex.checked, ignoreCase: this.ignoreCase.checked, invert: false,
      levels: this.level.value ? this.level.value.split(",") : [] });
    params.set("order", this.order.value);
    params.set("limit", String(RESULTS_PAGE));
    if (this.rotated.checked) params.set("rotated", "1");
    this.query = { log: this.log.value, params, order: this.order.value, found: 0, lastId: null,
      matcher: makeMatcher({ q, regex: this.regex.checked, ignoreCase: this.ignoreCase.checked, invert: false }) };
    this.results.replaceChildren();
    this.run();
  }

  abort() {
    if (this.controller) this.controller.abort();
    this.controller = null;
  }

  async run() {
    const query = this.query;
    if (!query || !query.log) return;
    this.abort();
    const controller = new AbortController();
    this.controller = controller;
    const params = new URLSearchParams(query.params);
    if (query.lastId) params.set(query.order === "newest" ? "before" : "after", query.lastId);
    this.more.hidden = true;
    this.stop.hidden = false;
    this.progress.hidden = false;
    this.progress.removeAttribute("value"); // indeterminate until the first progress object
    this.setStatus("Searching…");
    try {
      const done = await search(this.root, query.log, params, controller.signal, (obj) => this.receive(query, obj));
      this.progress.max = 1;
      this.progress.value = 1;
      const where = `${humanSize(done.scanned)} searched`;
      this.setStatus(done.truncated ? `${query.found} matches so far (${where}); there may be more`
        : `${query.found} match${query.found === 1 ? "" : "es"} (${where})`);
      this.more.hidden = !done.truncated;
    } catch (err) {
      this.setStatus(err.name === "AbortError" ? `Stopped: ${query.found} matches` : `Search failed: ${err.message}`);
      this.more.hidden = !(err.name === "AbortError" && query.lastId);
    } finally {
      if (this.controller === controller) this.controller = null;
      this.stop.hidden = true;
      this.progress.hidden = true;
    }
  }

  receive(query, obj) {
    if (obj.event === "progress") {
      this.progress.max = Math.max(1, obj.total);
      this.progress.value = obj.scanned;
      this.setStatus(`Searching… ${query.found} matches, ${humanSize(obj.scanned)} of ${humanSize(obj.total)}`);
    } else if (obj.event === "notice") {
      this.results.append(el("li", "hs-notice muted", `${obj.kind}: ${String(obj.message ?? "")}`));
    } else if (!obj.event) {
      query.found++;
      query.lastId = obj.id;
      this.results.append(this.resultItem(obj, query.matcher));
    }
  }

  resultItem(hit, matcher) {
    const item = el("li", "hs-hit");
    const where = [hit.file, hit.line ? `line ${hit.line}` : ""].filter(Boolean).join(" · "); // the tag names the log
    const meta = el("div", "hs-meta");
    const show = el("button", "btn btn-small hs-show", "show in context");
    show.type = "button";
    show.setAttribute("aria-expanded", "false");
    meta.append(el("span", "muted", where), show);
    item.append(buildLine(hit, matcher), meta);
    item.dataset.log = hit.log;
    item.dataset.id = hit.id;
    return item;
  }

  onResultClick(e) {
    const show = e.target instanceof Element ? e.target.closest(".hs-show") : null;
    if (!show) return;
    const item = show.closest(".hs-hit");
    const open = item.querySelector(".hs-context");
    if (open) {
      open.remove();
      show.setAttribute("aria-expanded", "false");
      show.textContent = "show in context";
      return;
    }
    show.setAttribute("aria-expanded", "true");
    show.textContent = "hide context";
    const box = el("div", "hs-context", "Loading…");
    item.append(box);
    this.showContext(item.dataset.log, item.dataset.id, box).catch((err) => {
      box.textContent = `Could not load the context: ${err.message}`;
    });
  }

  /** The lines around a hit: those just before it, then from the line before it on, oldest first. */
  async showContext(log, id, box) {
    const root = this.root;
    const matcher = this.query?.matcher ?? null;
    const earlier = await collect(root, log, new URLSearchParams({
      order: "newest", before: id, limit: String(CONTEXT_LINES), rotated: "1" }));
    const from = new URLSearchParams({ order: "oldest", limit: String(CONTEXT_LINES + 1), rotated: "1" });
    if (earlier.hits.length) from.set("after", earlier.hits[0].id);
    const later = await collect(root, log, from);
    const lines = [...earlier.hits.reverse(), ...later.hits];
    box.replaceChildren(...lines.map((hit) => {
      const line = buildLine(hit, matcher);
      if (hit.id === id) line.classList.add("hs-target");
      return line;
    }));
    if (lines.length === 0) box.textContent = "The line is no longer in the log's files.";
  }

  /** Open the panel on the lines around one line (a link from a line's "link" button). */
  showAround(log, id) {
    this.panel.open = true;
    this.results.replaceChildren();
    const item = el("li", "hs-hit hs-around");
    item.dataset.log = log;
    item.dataset.id = id;
    const box = el("div", "hs-context", "Loading…");
    item.append(el("div", "hs-meta muted", `Around a line of ${log}`), box);
    this.results.append(item);
    this.setStatus("");
    this.showContext(log, id, box).catch((err) => {
      box.textContent = `Could not load the lines around it: ${err.message}`;
    });
  }

  setStatus(text) {
    this.status.textContent = text;
  }
}

// ---- wiring ---------------------------------------------------------------------------------------------

let views = new AbortController();
const panelEl = document.getElementById("history-search");
const panel = panelEl ? new SearchPanel(panelEl) : null;

function attach(view) {
  views.abort(); // requests of panes that no longer exist
  views = new AbortController();
  for (const { pane, logs } of view.panes) {
    if (pane && Array.isArray(logs) && logs.length) new ScrollBack(pane, logs, view, views.signal);
  }
  if (panel) panel.setView(view);
}

document.addEventListener("logtail:view", (e) => attach(e.detail));
if (window.logtail?.view) attach(window.logtail.view);

// A line's link: #log=NAME&around=ID opens the search panel on the lines around it.
const linked = new URLSearchParams(location.hash.replace(/^#/, ""));
if (panel && linked.get("around") && linked.get("log")) panel.showAround(linked.get("log"), linked.get("around"));
