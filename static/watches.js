// The sidebar's Watches section: each watch with its state, its match count and a sparkline of its
// matches per minute over the last hour (from /api/watches and /api/watches/NAME/counts), refreshed every
// REFRESH_MS. On a server without watches (config.watches false) the section stays hidden and nothing is
// asked. Clicking a watch opens its live view (watchview.js); the line rates above the panes are volume.js's.
import { config, el } from "./page.js";
import { openWatchView } from "./watchview.js";
import { startVolume } from "./volume.js";

const REFRESH_MS = 15000;
const SVG = "http://www.w3.org/2000/svg";

/** The points of a sparkline for `counts` in a `width` x `height` box (pure: unit-testable). */
export function sparklinePoints(counts, width, height) {
  if (!counts.length) return "";
  const max = Math.max(1, ...counts);
  const step = counts.length > 1 ? width / (counts.length - 1) : 0;
  return counts
    .map((c, i) => `${(i * step).toFixed(1)},${(height - (c / max) * (height - 2) - 1).toFixed(1)}`)
    .join(" ");
}

function sparkline(counts) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "sparkline");
  svg.setAttribute("viewBox", "0 0 120 24");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${counts.reduce((a, b) => a + b, 0)} matches in the last hour`);
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", sparklinePoints(counts, 120, 24));
  svg.append(line);
  return svg;
}

async function fetchJSON(path) {
  const response = await fetch(`${config.root}${path}`, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function row(watch, counts) {
  const item = el("li", "watch");
  item.dataset.watch = watch.name;
  const link = el("a", "", watch.name);
  // The live view: the watch's filter over its logs, in a dialog (the link itself, opened in a new tab, is
  // the same stream as plain text).
  link.addEventListener("click", (event) => {
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    openWatchView(watch);
  });
  link.href = `${config.root}/api/watches/${encodeURIComponent(watch.name)}/stream?format=text&backlog=100`;
  link.target = "_blank";
  link.rel = "noopener";
  link.title = `${watch.logs.join(", ")}: threshold ${watch.threshold} in ${watch.window}s`;
  const state = el("span", "watch-state", watch.state);
  state.dataset.state = watch.state;
  item.append(link, state, el("span", "watch-count muted", `${watch.matches} matches`));
  item.append(sparkline(counts));
  if (watch.last_error) item.append(el("span", "watch-error", watch.last_error));
  return item;
}

async function refresh(section, list) {
  let watches;
  try {
    watches = await fetchJSON("/api/watches");
  } catch {
    return false; // no watches on this server (404), or it is away: try again later
  }
  const rows = await Promise.all(watches.map(async (watch) => {
    let counts = [];
    try {
      const series = await fetchJSON(`/api/watches/${encodeURIComponent(watch.name)}/counts?since=1h&step=1m`);
      counts = series.counts.map((point) => point.count);
    } catch { /* the sparkline stays empty */ }
    return row(watch, counts);
  }));
  list.replaceChildren(...rows);
  section.hidden = watches.length === 0;
  if (watches.length) startVolume();
  return true;
}

function start() {
  const section = document.getElementById("watches");
  const list = document.getElementById("watch-list");
  if (!section || !list || !config.watches) return;
  const tick = async () => {
    await refresh(section, list);
    setTimeout(tick, REFRESH_MS);
  };
  tick();
}

start();
