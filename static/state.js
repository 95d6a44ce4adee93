// What the user is looking at (logs, filters, field filters and columns, since, layout), kept in the page
// URL's hash so a link restores it. The server's query for it is built in query.js.

import { LEVELS } from "./page.js";

const MIN_LINES = 10;
const MAX_LINES = 200000;

export function clampLines(value, fallback) {
  const n = Math.round(Number(value));
  return Number.isFinite(n) && n > 0 ? Math.min(MAX_LINES, Math.max(MIN_LINES, n)) : fallback;
}

function flag(params, name) {
  const v = params.get(name);
  return v === "1" || v === "true" || v === "on";
}

/** The view state from the URL (hash first, then query string) over the page defaults. */
export function readState(defaults) {
  const hash = new URLSearchParams(location.hash.replace(/^#/, ""));
  const params = hash.has("log") || [...hash.keys()].length ? hash : new URLSearchParams(location.search);
  const levels = params.getAll("level").flatMap((v) => v.split(",")).filter((l) => LEVELS.includes(l));
  return {
    logs: [...new Set(params.getAll("log").filter(Boolean))],
    q: params.get("q") ?? "",
    regex: flag(params, "regex"),
    ignoreCase: flag(params, "ignore_case"),
    invert: flag(params, "invert"),
    levels: levels.length ? [...new Set(levels)] : [...LEVELS],
    view: params.get("view") === "split" ? "split" : "merged",
    wrap: params.get("wrap") !== "0",
    maxLines: clampLines(params.get("max_lines"), defaults.maxLines),
    fields: [...new Set(params.getAll("field").filter(Boolean))],
    columns: [...new Set(params.getAll("column").filter(Boolean))],
    since: params.get("since") ?? "",
    around: params.get("around") ?? "", // a line id: the log opened around that line (history.js)
  };
}

/** Put the state in the URL hash (replaceState: no history entry per keystroke). */
export function writeState(state, defaults) {
  const p = new URLSearchParams();
  for (const log of state.logs) p.append("log", log);
  if (state.q) p.set("q", state.q);
  if (state.regex) p.set("regex", "1");
  if (state.ignoreCase) p.set("ignore_case", "1");
  if (state.invert) p.set("invert", "1");
  if (state.levels.length < LEVELS.length) p.set("level", state.levels.join(","));
  if (state.view !== "merged") p.set("view", state.view);
  if (!state.wrap) p.set("wrap", "0");
  if (state.maxLines !== defaults.maxLines) p.set("max_lines", String(state.maxLines));
  for (const expr of state.fields) p.append("field", expr);
  for (const key of state.columns) p.append("column", key);
  if (state.since) p.set("since", state.since);
  if (state.around) p.set("around", state.around);
  const hash = p.toString();
  history.replaceState(history.state, "", `${location.pathname}${hash ? `#${hash}` : ""}`);
}

/** A URL that opens `log` around the line `id` (its context from the search, rotated files too). */
export function lineLink(log, id) {
  const p = new URLSearchParams();
  p.append("log", log);
  p.set("around", id);
  return `${location.origin}${location.pathname}#${p}`;
}
