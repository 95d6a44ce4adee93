// logtail dashboard: wires the sidebar, toolbar and panes to one EventSource on the multi-log stream.
// Modules: render.js (DOM for lines), pane.js (a scrolling column), stream.js (EventSource, resume,
// de-duplication), state.js (permalink and stream URL), fields.js (field columns, filters and chips),
// page.js (the server's configuration, shared helpers).

import { KeyTracker, isFieldFilter, renderChips, renderColumnPicker } from "./fields.js";
import { LEVELS, config, el, humanSize } from "./page.js";
import { Pane } from "./pane.js";
import { colourOf, lineText, makeMatcher } from "./render.js";
import { clampLines, readState, streamUrl, writeState } from "./state.js";
import { LogStream } from "./stream.js";

const LOG_REFRESH_MS = 5000; // a log shipped for the first time shows up within seconds
const FILTER_DEBOUNCE_MS = 300;
const SELECTION_DEBOUNCE_MS = 150;
const TOAST_MS = 1800;
const THEME_KEY = "logtail.theme";
const THEMES = ["auto", "dark", "light"];

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("status"), statusText: $("status-text"), held: $("held"), pause: $("pause"),
  copyLink: $("copy-link"), theme: $("theme"), toggleSidebar: $("toggle-sidebar"), toggleOptions: $("toggle-options"),
  logList: $("log-list"), logCount: $("log-count"), filters: $("filters"), filter: $("filter"),
  regex: $("opt-regex"), ignoreCase: $("opt-ignore-case"), invert: $("opt-invert"), wrap: $("opt-wrap"),
  maxLines: $("opt-max-lines"), filterError: $("filter-error"), panes: $("panes"), empty: $("empty"),
  toast: $("toast"), since: $("opt-since"), sinceCustom: $("opt-since-custom"), fieldAdd: $("field-add"),
  fieldChips: $("field-chips"), columns: $("columns"), columnList: $("column-list"),
};
const SINCE_CHOICES = ["", "5m", "1h", "24h"];

const defaults = { maxLines: clampLines(config.maxLines, 5000) };
const state = readState(defaults);
const logs = new Map(); // name -> {name, path, size, exists, mtime} from the server
const ctx = { matcher: null, columns: state.columns }; // shared with the panes
const keys = new KeyTracker(); // field keys seen, offered as columns
let panes = [];
let paneOf = new Map(); // log name -> Pane, side-by-side view
let recent = []; // items given to panes, to lay them out again when the view mode changes
let held = []; // items received while paused
let heldLines = 0;
let paused = false;
let frameRequested = false;
let streamKey = null; // the open stream's URL ("" when no log is selected)

const stream = new LogStream({
  onLine: (data) => receive({ kind: "line", data }),
  onNotice: (data) => receive({ kind: "notice", data }),
  onStatus: setStatus,
  onFatal: showStreamError,
});

const downloadUrl = (name) => `${config.root}/api/logs/${encodeURIComponent(name)}/download`;

// ---- receiving and rendering ----------------------------------------------------------------------------

function receive(item) {
  if (item.kind === "line" && typeof item.data?.text === "string") keys.note(item.data.text, item.data.fields);
  if (paused) {
    held.push(item);
    if (item.kind === "line") heldLines++;
    requestFrame();
    return;
  }
  recent.push(item);
  if (recent.length > 2 * state.maxLines + 1000) recent.splice(0, recent.length - state.maxLines);
  route(item);
}

function route(item) {
  const log = item.data?.log;
  if (state.view === "split" && log && paneOf.has(log)) paneOf.get(log).enqueue(item);
  else if (state.view === "split" && log) return; // a log not shown (should not happen)
  else for (const pane of panes) pane.enqueue(item);
  requestFrame();
}

function requestFrame() {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(() => {
    frameRequested = false;
    for (const pane of panes) pane.flush();
    updateHeld();
  });
}

function paneCap() {
  return Math.max(10, Math.floor(state.maxLines / Math.max(1, panes.length || activeLogs().length)));
}

/** Logs to stream: the selected ones the server knows (a permalink may name a log not discovered yet). */
function activeLogs() {
  return state.logs.filter((name) => logs.has(name));
}

function buildPanes() {
  for (const pane of panes) pane.destroy();
  ui.panes.textContent = "";
  panes = [];
  paneOf = new Map();
  const names = activeLogs();
  ui.panes.dataset.view = state.view;
  ui.panes.classList.toggle("nowrap", !state.wrap);
  ui.empty.hidden = names.length > 0;
  if (names.length === 0) {
    announceView();
    return;
  }
  const count = state.view === "split" ? names.length : 1;
  const cap = Math.max(10, Math.floor(state.maxLines / count));
  if (state.view === "split") {
    for (const name of names) {
      const pane = new Pane(paneHead([name], true), ctx, cap);
      paneOf.set(name, pane);
      panes.push(pane);
    }
  } else {
    panes.push(new Pane(paneHead(names, false), ctx, cap));
  }
  for (const pane of panes) ui.panes.append(pane.el);
  for (const item of recent) route(item);
  announceView();
}

// For add-ons (static/history.js): the panes, the logs each shows and the filter, sent as a "logtail:view"
// event whenever the panes are rebuilt, and readable as window.logtail.view.
function viewInfo() {
  const names = activeLogs();
  const filter = { q: state.q, regex: state.regex, ignoreCase: state.ignoreCase, invert: state.invert,
    levels: [...state.levels], fields: [...state.fields] };
  const shown = (i) => (state.view === "split" ? [names[i]] : names);
  return { root: config.root, filter, panes: panes.map((pane, i) => ({ pane, logs: shown(i) })) };
}

function announceView() {
  document.dispatchEvent(new CustomEvent("logtail:view", { detail: viewInfo() }));
}

function paneHead(names, single) {
  const head = el("header", "pane-head");
  const title = el("div", "pane-title");
  for (const name of names) {
    const chip = el("span", "pane-log");
    chip.append(el("span", `swatch c${colourOf(name)}`), el("span", "log-name", name));
    const size = el("span", "log-size muted", humanSize(logs.get(name)?.size));
    size.dataset.sizeOf = name;
    chip.append(size);
    const dl = el("a", "icon-link", "↓");
    dl.href = downloadUrl(name);
    dl.setAttribute("download", name);
    dl.title = `Download ${name}`;
    dl.setAttribute("aria-label", `Download ${name}`);
    chip.append(dl);
    title.append(chip);
  }
  const clear = el("button", "btn btn-small", "Clear view");
  clear.type = "button";
  clear.dataset.action = "clear";
  if (single) clear.dataset.log = names[0];
  clear.title = single ? `Clear ${names[0]} from the view` : "Clear the view";
  head.append(title, clear);
  return head;
}

function clearView(name) {
  if (name) {
    recent = recent.filter((item) => item.data?.log !== name);
    if (paneOf.has(name)) paneOf.get(name).clear("view cleared");
    else for (const pane of panes) pane.clearLog(name);
  } else {
    recent = [];
    for (const pane of panes) pane.clear("view cleared");
  }
  requestFrame();
}

// ---- the stream -----------------------------------------------------------------------------------------

/** (Re)open the stream if logs or filters changed; the view restarts from the server's backlog. */
function openStream(reason) {
  writeState(state, defaults);
  updateTitle();
  const names = activeLogs();
  const key = names.length ? streamUrl(config.root, { ...state, logs: names }, config.backlog) : "";
  if (key === streamKey) return;
  streamKey = key;
  ctx.matcher = makeMatcher(state);
  hideStreamError();
  held = [];
  heldLines = 0;
  recent = [];
  buildPanes();
  if (!key) {
    stream.close();
    setStatus("idle", "no log selected");
    updateHeld();
    return;
  }
  if (reason) {
    const marker = { kind: "marker", message: `${reason} — view cleared; showing the last matching lines` };
    for (const pane of panes) pane.enqueue(marker);
  }
  stream.open(key);
  requestFrame();
}

function setStatus(kind, text) {
  ui.status.dataset.state = kind;
  ui.statusText.textContent = text;
}

function showStreamError(text) {
  ui.filterError.textContent = text;
  ui.filterError.hidden = false;
}

function hideStreamError() {
  ui.filterError.hidden = true;
  ui.filterError.textContent = "";
}

// ---- pause ----------------------------------------------------------------------------------------------

function togglePause() {
  paused = !paused;
  if (!paused) {
    const items = held;
    held = [];
    heldLines = 0;
    for (const item of items) receive(item);
  }
  ui.pause.textContent = paused ? "Resume" : "Pause";
  ui.pause.setAttribute("aria-pressed", String(paused));
  document.body.classList.toggle("paused", paused);
  updateHeld();
  updateTitle();
  requestFrame();
}

function updateHeld() {
  ui.held.hidden = !paused;
  ui.held.dataset.count = String(heldLines);
  const text = `paused — ${heldLines} held`;
  if (ui.held.textContent !== text) ui.held.textContent = text;
}

function updateTitle() {
  const names = state.logs.length ? state.logs.join(", ") : "logtail";
  document.title = `${paused ? "⏸ " : ""}${names} · logtail`;
}

// ---- sidebar: the list of logs --------------------------------------------------------------------------

function renderLogs(list) {
  const seen = new Set();
  for (const log of list) {
    if (!log || typeof log.name !== "string") continue;
    seen.add(log.name);
    logs.set(log.name, log);
    let item = ui.logList.querySelector(`li[data-name="${CSS.escape(log.name)}"]`);
    if (!item) {
      item = logItem(log.name);
      listFor(log.host).append(item);
    }
    updateLogItem(item, log);
  }
  // Selected logs the server does not list (yet): shown so they can be unticked.
  for (const name of state.logs) {
    if (seen.has(name)) continue;
    logs.delete(name);
    const item = ui.logList.querySelector(`li[data-name="${CSS.escape(name)}"]`) ?? logItem(name);
    if (!item.isConnected) ui.logList.append(item);
    updateLogItem(item, null);
  }
  for (const item of ui.logList.querySelectorAll("li.log-item")) {
    if (!seen.has(item.dataset.name) && !state.logs.includes(item.dataset.name)) item.remove();
  }
  for (const group of ui.logList.querySelectorAll("li.host-group")) {
    if (!group.querySelector("li.log-item")) group.remove();
  }
  ui.logCount.textContent = `${seen.size}`;
}

// Logs shipped from other hosts (NAME@HOST, with a `host` field) are grouped under their host's name;
// this server's own files stay at the top of the list.
function listFor(host) {
  if (typeof host !== "string" || !host) return ui.logList;
  let group = ui.logList.querySelector(`li.host-group[data-host="${CSS.escape(host)}"]`);
  if (!group) {
    group = el("li", "host-group");
    group.dataset.host = host;
    group.append(el("h3", "host-name", host), el("ul", "log-list"));
    const groups = [...ui.logList.querySelectorAll("li.host-group")];
    const next = groups.find((g) => g.dataset.host > host);
    ui.logList.insertBefore(group, next ?? null);
  }
  return group.querySelector("ul");
}

function logItem(name) {
  const item = el("li", "log-item");
  item.dataset.name = name;
  const label = el("label", "log-pick");
  const box = el("input");
  box.type = "checkbox";
  box.value = name;
  label.append(box, el("span", `swatch c${colourOf(name)}`), el("span", "log-name", name));
  const meta = el("span", "log-meta");
  meta.append(el("span", "log-size"), el("span", "badge"));
  const dl = el("a", "icon-link", "↓");
  dl.href = downloadUrl(name);
  dl.setAttribute("download", name);
  dl.title = `Download ${name}`;
  dl.setAttribute("aria-label", `Download ${name}`);
  const clear = el("button", "icon-link log-clear", "⌫");
  clear.type = "button";
  clear.dataset.action = "clear";
  clear.dataset.log = name;
  clear.title = `Clear ${name} from the view`;
  clear.setAttribute("aria-label", `Clear ${name} from the view`);
  item.append(label, meta, dl, clear);
  return item;
}

function updateLogItem(item, log) {
  const name = item.dataset.name;
  const selected = state.logs.includes(name);
  item.querySelector("input").checked = selected;
  item.classList.toggle("selected", selected);
  item.querySelector(".log-pick").title = log?.path ?? "not known to the server";
  const size = humanSize(log?.size);
  item.querySelector(".log-size").textContent = size;
  const badge = item.querySelector(".badge");
  badge.textContent = !log ? "unknown" : log.exists === false ? "missing" : "";
  badge.hidden = !badge.textContent;
  for (const node of ui.panes.querySelectorAll(`[data-size-of="${CSS.escape(name)}"]`)) node.textContent = size;
}

async function refreshLogs() {
  try {
    const res = await fetch(`${config.root}/api/logs`, { cache: "no-store", headers: { Accept: "application/json" } });
    if (!res.ok) return;
    const list = await res.json();
    if (!Array.isArray(list)) return;
    renderLogs(list);
    openStream("a selected log appeared"); // no-op unless the set of streamable logs changed
  } catch {
    // the status indicator already tells about a server that is down
  }
}

function selectionChanged() {
  const ticked = [...ui.logList.querySelectorAll("input:checked")].map((box) => box.value);
  state.logs = ticked;
  for (const item of ui.logList.querySelectorAll("li.log-item")) item.classList.toggle("selected", ticked.includes(item.dataset.name));
  openStream("logs changed");
}

// ---- controls -------------------------------------------------------------------------------------------

function debounce(fn, ms) {
  let timer = 0;
  const run = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  run.now = (...args) => {
    clearTimeout(timer);
    fn(...args);
  };
  return run;
}

function showControls() {
  ui.filter.value = state.q;
  ui.regex.checked = state.regex;
  ui.ignoreCase.checked = state.ignoreCase;
  ui.invert.checked = state.invert;
  ui.wrap.checked = state.wrap;
  ui.maxLines.value = String(state.maxLines);
  for (const box of ui.filters.querySelectorAll('input[name="level"]')) box.checked = state.levels.includes(box.value);
  for (const radio of ui.filters.querySelectorAll('input[name="view"]')) radio.checked = radio.value === state.view;
  const preset = SINCE_CHOICES.includes(state.since);
  ui.since.value = preset ? state.since : "custom";
  ui.sinceCustom.hidden = preset;
  ui.sinceCustom.value = preset ? "" : state.since;
  renderChips(ui.fieldChips, state.fields);
}

// ---- since, field filters and columns -------------------------------------------------------------------

function setSince(value) {
  state.since = value.trim();
  openStream(state.since ? `since ${state.since}` : "since cleared");
}

function addField(expr) {
  if (!isFieldFilter(expr)) {
    showStreamError(`field: ${JSON.stringify(expr)} is not KEY OP VALUE (e.g. status>=500, user:alice, path~^/api/)`);
    return;
  }
  if (!state.fields.includes(expr)) state.fields = [...state.fields, expr];
  renderChips(ui.fieldChips, state.fields);
  openStream("field filter added");
}

function removeField(index) {
  state.fields = state.fields.filter((_, i) => i !== index);
  renderChips(ui.fieldChips, state.fields);
  openStream("field filter removed");
}

function setColumns(columns) {
  state.columns = columns;
  ctx.columns = columns;
  writeState(state, defaults);
  buildPanes(); // lines already shown are drawn again with the new columns
  requestFrame();
}

function bindFieldControls() {
  ui.since.addEventListener("change", () => {
    const custom = ui.since.value === "custom";
    ui.sinceCustom.hidden = !custom;
    if (custom) ui.sinceCustom.focus();
    else setSince(ui.since.value);
  });
  ui.sinceCustom.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    e.preventDefault();
    setSince(ui.sinceCustom.value);
  });
  ui.fieldAdd.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    e.preventDefault();
    const expr = ui.fieldAdd.value.trim();
    if (!expr) return;
    ui.fieldAdd.value = "";
    addField(expr);
  });
  ui.fieldChips.addEventListener("click", (e) => {
    const chip = e.target instanceof Element ? e.target.closest(".field-chip") : null;
    if (chip) removeField(Number(chip.dataset.index));
  });
  ui.columns.addEventListener("toggle", () => {
    if (ui.columns.open) renderColumnPicker(ui.columnList, keys.keys, state.columns);
  });
  ui.columnList.addEventListener("change", () => {
    setColumns([...ui.columnList.querySelectorAll("input:checked")].map((box) => box.value));
  });
}

/** A URL that opens `log` around the line `id` (its context from the search, rotated files too). */
function lineLink(log, id) {
  const p = new URLSearchParams();
  p.append("log", log);
  p.set("around", id);
  return `${location.origin}${location.pathname}#${p}`;
}

function readFilterControls() {
  state.q = ui.filter.value;
  state.regex = ui.regex.checked;
  state.ignoreCase = ui.ignoreCase.checked;
  state.invert = ui.invert.checked;
  state.levels = [...ui.filters.querySelectorAll('input[name="level"]:checked')].map((box) => box.value);
}

function bindControls() {
  const applyFilter = debounce(() => {
    readFilterControls();
    openStream("filter changed");
  }, FILTER_DEBOUNCE_MS);
  ui.filter.addEventListener("input", () => applyFilter());
  ui.filters.addEventListener("submit", (e) => {
    e.preventDefault();
    applyFilter.now();
  });
  for (const box of [ui.regex, ui.ignoreCase, ui.invert]) box.addEventListener("change", () => applyFilter.now());
  for (const box of ui.filters.querySelectorAll('input[name="level"]')) {
    box.addEventListener("change", () => {
      if (!ui.filters.querySelector('input[name="level"]:checked')) box.checked = true; // never "no level"
      applyFilter.now();
    });
  }
  for (const radio of ui.filters.querySelectorAll('input[name="view"]')) {
    radio.addEventListener("change", () => {
      state.view = radio.value === "split" ? "split" : "merged";
      writeState(state, defaults);
      buildPanes();
      requestFrame();
    });
  }
  ui.wrap.addEventListener("change", () => {
    state.wrap = ui.wrap.checked;
    writeState(state, defaults);
    ui.panes.classList.toggle("nowrap", !state.wrap);
    for (const pane of panes) if (pane.follow) pane.scrollToBottom();
  });
  ui.maxLines.addEventListener("change", () => {
    state.maxLines = clampLines(ui.maxLines.value, state.maxLines);
    ui.maxLines.value = String(state.maxLines);
    writeState(state, defaults);
    for (const pane of panes) pane.setCap(paneCap());
  });
  const pickLogs = debounce(selectionChanged, SELECTION_DEBOUNCE_MS);
  ui.logList.addEventListener("change", (e) => { if (e.target.matches('input[type="checkbox"]')) pickLogs(); });
  document.addEventListener("click", onClick);
  document.addEventListener("keydown", onKey);
  ui.pause.addEventListener("click", togglePause);
  ui.copyLink.addEventListener("click", () => copyText(location.href, null, "Link copied"));
  ui.theme.addEventListener("click", cycleTheme);
  for (const [button, cls] of [[ui.toggleSidebar, "sidebar-open"], [ui.toggleOptions, "options-open"]]) {
    button.addEventListener("click", () => {
      button.setAttribute("aria-expanded", String(document.body.classList.toggle(cls)));
    });
  }
}

function onClick(e) {
  const target = e.target instanceof Element ? e.target : null;
  const link = target?.closest(".line .link");
  if (link) {
    const line = link.closest(".line");
    copyText(lineLink(line.dataset.log, line.dataset.id), null, "Link to the line copied");
    return;
  }
  const cell = target?.closest(".line .cell[data-value]");
  if (cell) {
    addField(`${cell.dataset.key}:${cell.dataset.value}`);
    return;
  }
  const copy = target?.closest(".line .copy");
  if (copy) {
    const line = copy.closest(".line");
    copyText(lineText(line), line.querySelector(".text"), "Line copied");
    return;
  }
  const action = target?.closest("[data-action]");
  if (action?.dataset.action === "clear") clearView(action.dataset.log);
}

function isTyping(target) {
  return target instanceof Element && target.closest('input, textarea, select, [contenteditable]:not([contenteditable="false"])');
}

function onKey(e) {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
  if (isTyping(e.target)) {
    if (e.key === "Escape" && e.target === ui.filter) ui.filter.blur();
    return;
  }
  if (e.key === " ") {
    if (e.target instanceof Element && e.target.closest("button, a, summary")) return; // activates it
    e.preventDefault();
    togglePause();
  } else if (e.key === "/") {
    e.preventDefault();
    ui.filter.focus();
    ui.filter.select();
  } else if (e.key === "End") {
    e.preventDefault();
    for (const pane of panes) pane.jumpToBottom();
  }
}

// ---- copy, toast, theme ---------------------------------------------------------------------------------

async function copyText(text, node, done) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      toast(done);
      return;
    } catch {
      // denied: fall back below
    }
  }
  const area = el("textarea", "offscreen");
  area.value = text;
  area.readOnly = true;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  if (ok) {
    toast(done);
  } else if (node) {
    const range = document.createRange();
    range.selectNodeContents(node);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    toast("Selected: press Ctrl+C to copy");
  } else {
    toast("Copy the address from the address bar");
  }
}

let toastTimer = 0;
function toast(text) {
  ui.toast.textContent = text;
  ui.toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { ui.toast.hidden = true; }, TOAST_MS);
}

function storedTheme() {
  try {
    const value = localStorage.getItem(THEME_KEY);
    return THEMES.includes(value) ? value : "auto";
  } catch {
    return "auto";
  }
}

function applyTheme(theme) {
  if (theme === "auto") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  ui.theme.textContent = `Theme: ${theme}`;
}

function cycleTheme() {
  const next = THEMES[(THEMES.indexOf(storedTheme()) + 1) % THEMES.length];
  try {
    if (next === "auto") localStorage.removeItem(THEME_KEY);
    else localStorage.setItem(THEME_KEY, next);
  } catch {
    // storage blocked: the choice lasts for this page only
  }
  applyTheme(next);
}

// ---- start ----------------------------------------------------------------------------------------------

function start() {
  applyTheme(storedTheme());
  for (const log of config.logs) if (log && typeof log.name === "string") logs.set(log.name, log);
  if (state.logs.length === 0) {
    const first = config.logs.find((log) => log?.exists !== false) ?? config.logs[0];
    if (first) state.logs = [first.name];
  }
  renderLogs(config.logs);
  showControls();
  bindControls();
  bindFieldControls();
  openStream("");
  setInterval(refreshLogs, LOG_REFRESH_MS);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refreshLogs(); });
}

// Exposed for debugging from the console (and the browser tests): read-only counters.
window.logtail = Object.freeze({
  get paused() { return paused; },
  get held() { return heldLines; },
  get panes() { return panes.map((p) => ({ lines: p.lines, dropped: p.dropped, follow: p.follow, queued: p.queue.length })); },
  get levels() { return [...LEVELS]; },
  get view() { return viewInfo(); },
});

start();
