// The server's query for what the page shows: the filter parameters (q / regex, ignore_case, invert, level,
// field) built here only, for the live stream and for history and search alike, and the stream's URL.

import { LEVELS } from "./page.js";

/**
 * The filter parameters for {q, regex, ignoreCase, invert, levels, fields} (the view state's names).
 * All levels are left out (as no level), and so are the flags without a text to apply them to.
 */
export function filterParams(filter) {
  const p = new URLSearchParams();
  if (filter.q) p.set(filter.regex ? "regex" : "q", filter.q);
  if (filter.q && filter.ignoreCase) p.set("ignore_case", "1");
  if (filter.q && filter.invert) p.set("invert", "1");
  if (filter.levels && filter.levels.length < LEVELS.length) p.set("level", filter.levels.join(","));
  for (const expr of filter.fields ?? []) p.append("field", expr);
  return p;
}

/** The multi-log stream URL for the view state: filters are applied by the server. */
export function streamUrl(root, state, backlog) {
  const p = new URLSearchParams();
  for (const log of state.logs) p.append("log", log);
  p.set("backlog", String(backlog));
  for (const [name, value] of filterParams(state)) p.append(name, value);
  if (state.since) p.set("since", state.since);
  // The page shows the latest lines and caps what it keeps: when it falls behind, skipping ahead (with a
  // gap notice) beats being served the backlog it would drop anyway.
  p.set("overflow", "skip");
  return `${root}/api/stream?${p}`;
}
