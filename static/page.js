// What the server tells the page, and the small helpers every module of the page uses.
// The configuration is the JSON in <script id="logtail-config"> (templates/dashboard.html), written by the
// server from its settings: the root path, the logs, the level names and notice kinds, the grammar of fields
// (logtail/fields.py), the backlog.

function readConfig() {
  let cfg = {};
  try {
    cfg = JSON.parse(document.getElementById("logtail-config")?.textContent || "{}");
  } catch {
    // a broken or missing config: the empty values below, and the data- attribute for the root
  }
  const root = typeof cfg.root === "string" ? cfg.root : document.body?.dataset.root || "";
  return {
    root: root.replace(/\/+$/, ""),
    logs: Array.isArray(cfg.logs) ? cfg.logs : [],
    levels: strings(cfg.levels),
    noticeKinds: strings(cfg.noticeKinds),
    fieldGrammar: {
      logfmtPair: typeof cfg.fieldGrammar?.logfmtPair === "string" ? cfg.fieldGrammar.logfmtPair : "",
      operators: strings(cfg.fieldGrammar?.operators),
    },
    maxLines: Number.isInteger(cfg.maxLines) ? cfg.maxLines : undefined,
    backlog: Number.isInteger(cfg.backlog) ? cfg.backlog : 0,
    heartbeat: cfg.heartbeat,
    version: cfg.version ?? "",
    watches: cfg.watches === true, // the server has watches (static/watches.js)
  };
}

function strings(value) {
  return Array.isArray(value) ? value.filter((v) => typeof v === "string") : [];
}

export const config = readConfig();

/** The level names, most severe first, as the server has them. */
export const LEVELS = Object.freeze(config.levels);

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function humanSize(bytes) {
  if (typeof bytes !== "number" || !Number.isFinite(bytes) || bytes < 0) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** The "↓" link that downloads a log's file. */
export function downloadLink(name) {
  const link = el("a", "icon-link", "↓");
  link.href = `${config.root}/api/logs/${encodeURIComponent(name)}/download`;
  link.setAttribute("download", name);
  link.title = `Download ${name}`;
  link.setAttribute("aria-label", `Download ${name}`);
  return link;
}

/** `fn` run `ms` after the last call; `.now()` runs it at once (and cancels the pending run). */
export function debounce(fn, ms) {
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
