// logtail dashboard: reads the view state from the page URL, builds the page's parts and wires them to one
// EventSource on the multi-log stream. The parts, one job each:
//   sidebar.js   the list of logs to pick            controls.js  the toolbar: filters, since, fields, view
//   panes.js     the panes, merged or side by side   pane.js      one scrolling column of lines
//   feed.js      pause, and one render per frame     stream.js    the EventSource: resume, de-duplication
//   query.js     the server's query (filter params)  state.js     the view state in the URL (permalinks)
//   render.js    the DOM of a line                   fields.js    a line's fields (JSON, logfmt)
//   clipboard.js copying, and the toast              theme.js     the colour theme
//   shortcuts.js the keyboard                        page.js      the server's configuration, helpers
//   linenav.js   the keyboard in a pane              drawer.js    the Logs drawer of narrow windows
//   menus.js     drop-down menus (Columns)
// history.js (scroll-back, the search panel) hooks in through the "logtail:view" event.

import { copyText } from "./clipboard.js";
import { setViewLogs } from "./colours.js";
import { Controls } from "./controls.js";
import { bindDrawer } from "./drawer.js";
import { Feed } from "./feed.js";
import { KeyTracker } from "./fields.js";
import { LEVELS, config } from "./page.js";
import { OutageBadge } from "./outage.js";
import { Panes } from "./panes.js";
import { streamUrl } from "./query.js";
import { lineText, makeMatcher } from "./render.js";
import { bindShortcuts } from "./shortcuts.js";
import { Sidebar } from "./sidebar.js";
import { clampLines, lineLink, readState, writeState } from "./state.js";
import { LogStream } from "./stream.js";
import { bindTheme } from "./theme.js";

const $ = (id) => document.getElementById(id);
const ui = { status: $("status"), statusText: $("status-text"), filterError: $("filter-error") };

const defaults = { maxLines: clampLines(config.maxLines, 5000) };
const state = readState(defaults);
const logs = new Map(); // name -> {name, path, size, exists, mtime, host?} from the server
const ctx = { matcher: null, columns: state.columns }; // shared with the panes
const keys = new KeyTracker(); // field keys seen, offered as columns
const panes = new Panes(logs, ctx);
const feed = new Feed(panes, keys, updateTitle);
const badge = new OutageBadge(showStatus);
const stream = new LogStream({
  onLine: (data) => feed.receive({ kind: "line", data }),
  onNotice: (data) => {
    badge.notice(data);
    sidebar.notice(data);
    feed.receive({ kind: "notice", data });
  },
  onStatus: setStatus,
  onFatal: showStreamError,
});
const sidebar = new Sidebar(state, logs, {
  onSelect: (names) => {
    state.logs = names;
    openStream("logs changed");
  },
  onListed: () => {
    panes.showSizes();
    openStream("a selected log appeared"); // no-op unless the set of streamable logs changed
  },
});
const controls = new Controls(state, keys, {
  onFilter: openStream,
  onLayout: () => {
    ctx.columns = state.columns;
    writeState(state, defaults);
    layOut(); // lines already shown are drawn again (the new columns, the new view mode)
    feed.requestFrame();
  },
  onWrap: () => {
    writeState(state, defaults);
    panes.setWrap(state.wrap);
  },
  onMaxLines: () => {
    writeState(state, defaults);
    panes.setMaxLines(state.maxLines);
  },
  onError: showStreamError,
});
let streamKey = null; // the open stream's URL ("" when no log is selected)

/** Logs to stream: the selected ones the server knows (a permalink may name a log not discovered yet). */
function activeLogs() {
  return state.logs.filter((name) => logs.has(name));
}

function layOut() {
  setViewLogs(activeLogs());
  sidebar.recolour();
  panes.build(activeLogs(), state);
  document.dispatchEvent(new CustomEvent("logtail:view", { detail: viewInfo() }));
}

// For add-ons (static/history.js): the panes, the logs each shows and the filter, sent as a "logtail:view"
// event whenever the panes are laid out, and readable as window.logtail.view.
function viewInfo() {
  const filter = { q: state.q, regex: state.regex, ignoreCase: state.ignoreCase, invert: state.invert,
    levels: [...state.levels], fields: [...state.fields] };
  return { root: config.root, filter, panes: panes.shown() };
}

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
  feed.drop();
  panes.forget();
  layOut();
  if (!key) {
    stream.close();
    setStatus("idle", "no log selected");
    return;
  }
  if (reason) panes.mark(`${reason} — view cleared; showing the last matching lines`);
  stream.open(key);
  feed.requestFrame();
}

function setStatus(kind, text) {
  badge.status(kind, text);
}

function showStatus(kind, text) {
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

function updateTitle() {
  const names = state.logs.length ? state.logs.join(", ") : "logtail";
  document.title = `${feed.paused ? "⏸ " : ""}${names} · logtail`;
}

/** The buttons of the lines (copy, link, a cell's value) and every "Clear view". */
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
    controls.addField(`${cell.dataset.key}:${cell.dataset.value}`);
    return;
  }
  const copy = target?.closest(".line .copy");
  if (copy) {
    const line = copy.closest(".line");
    copyText(lineText(line), line.querySelector(".text"), "Line copied");
    return;
  }
  const action = target?.closest("[data-action]");
  if (action?.dataset.action === "clear") {
    panes.clear(action.dataset.log);
    feed.requestFrame();
  }
}

function start() {
  bindTheme($("theme"));
  for (const log of config.logs) if (log && typeof log.name === "string") logs.set(log.name, log);
  if (state.logs.length === 0) {
    const first = config.logs.find((log) => log?.exists !== false) ?? config.logs[0];
    if (first) state.logs = [first.name];
  }
  sidebar.render(config.logs);
  controls.show();
  controls.bind();
  document.addEventListener("click", onClick);
  bindShortcuts($("filter"), {
    togglePause: () => feed.togglePause(),
    focusFilter: () => controls.focusFilter(),
    focusLogs: () => sidebar.filter.focus(),
    jumpToBottom: () => panes.jumpToBottom(),
  });
  $("pause").addEventListener("click", () => feed.togglePause());
  $("copy-link").addEventListener("click", () => copyText(location.href, null, "Link copied"));
  // Narrow screens: the sidebar (a drawer) and the toolbar's options fold away behind a button each.
  bindDrawer($("toggle-sidebar"), $("sidebar"), "sidebar-open");
  const options = $("toggle-options");
  options.addEventListener("click", () => {
    options.setAttribute("aria-expanded", String(document.body.classList.toggle("options-open")));
  });
  openStream("");
  sidebar.startRefreshing();
}

// Exposed for debugging from the console (and the browser tests): read-only counters.
window.logtail = Object.freeze({
  get paused() { return feed.paused; },
  get held() { return feed.heldLines; },
  get panes() { return panes.stats(); },
  get levels() { return [...LEVELS]; },
  get view() { return viewInfo(); },
});

start();
