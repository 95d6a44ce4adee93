// Line rates by level above each log's pane: a small stacked bar chart of lines per second over the last
// minutes, by level (like the volume bar of Loki or Kibana), from the counts the server keeps per log and
// level (/api/levels, only with watches configured: watches.js starts them when the server lists some).
import { config, el } from "./page.js";

const POLL_MS = 5000;
const SAMPLES = 24; // two minutes of 5 s samples
const ORDER = ["error", "warn", "info", "debug", "none"];
const SVG = "http://www.w3.org/2000/svg";

/** Lines per second by level between two snapshots of a log's counts (pure: unit-testable). */
export function rates(before, after, seconds) {
  const out = {};
  for (const level of ORDER) {
    const delta = (after?.[level] ?? 0) - (before?.[level] ?? 0);
    out[level] = seconds > 0 && delta > 0 ? delta / seconds : 0;
  }
  return out;
}

/** The rectangles of a stacked bar chart of `samples` (rates by level) in a `width` x `height` box. */
export function bars(samples, width, height) {
  const totals = samples.map((s) => ORDER.reduce((sum, level) => sum + s[level], 0));
  const max = Math.max(1e-9, ...totals);
  const w = width / SAMPLES;
  const rects = [];
  samples.forEach((sample, i) => {
    let y = height;
    const x = (SAMPLES - samples.length + i) * w;
    for (const level of ORDER) {
      const h = (sample[level] / max) * height;
      if (h <= 0) continue;
      y -= h;
      rects.push({ level, x, y, width: Math.max(1, w - 1), height: h });
    }
  });
  return rects;
}

function describe(name, rate) {
  const total = ORDER.reduce((sum, level) => sum + rate[level], 0);
  const parts = ORDER.filter((level) => rate[level] > 0).map((level) => `${level} ${rate[level].toFixed(1)}`);
  return `${name}: ${total.toFixed(1)} lines/s${parts.length ? ` (${parts.join(", ")})` : ""}`;
}

function chart(name, samples) {
  const box = el("div", "volume");
  box.dataset.volumeOf = name;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 120 16");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  const label = samples.length ? describe(name, samples[samples.length - 1]) : `${name}: measuring line rates`;
  svg.setAttribute("aria-label", label);
  for (const r of bars(samples, 120, 16)) {
    const rect = document.createElementNS(SVG, "rect");
    rect.setAttribute("class", `vol-${r.level}`);
    for (const key of ["x", "y", "width", "height"]) rect.setAttribute(key, r[key].toFixed(2));
    svg.append(rect);
  }
  box.title = label;
  box.append(svg, el("span", "volume-rate muted", label.split(": ")[1]));
  return box;
}

class Volume {
  constructor() {
    this.last = null; // {at, logs}
    this.history = new Map(); // log -> rates by level, oldest first
  }

  async poll() {
    let snapshot;
    try {
      const response = await fetch(`${config.root}/api/levels`, { headers: { Accept: "application/json" } });
      if (!response.ok) return false; // no watches on this server: no counts, no bars
      snapshot = await response.json();
    } catch {
      return true; // away for now
    }
    if (this.last) {
      const seconds = snapshot.at - this.last.at;
      const names = new Set([...this.history.keys(), ...Object.keys(snapshot.logs)]);
      for (const name of names) {
        const counts = snapshot.logs[name];
        const samples = this.history.get(name) ?? [];
        samples.push(rates(this.last.logs[name], counts, seconds));
        if (samples.length > SAMPLES) samples.shift();
        this.history.set(name, samples);
      }
    }
    this.last = snapshot;
    this.draw();
    return true;
  }

  /** A chart in each pane head, for each log it shows (pane heads are rebuilt by panes.js: drawn again). */
  draw() {
    for (const head of document.querySelectorAll("#panes .pane-head")) {
      const names = [...head.querySelectorAll("[data-size-of]")].map((node) => node.dataset.sizeOf);
      let row = head.querySelector(".volumes");
      if (!row) {
        row = el("div", "volumes");
        head.append(row);
      }
      // Before the second poll there is no rate yet: the chart says so.
      row.replaceChildren(...(this.last ? names : []).map((n) => chart(n, this.history.get(n) ?? [])));
    }
  }
}

let started = false;

/** Start the bars (watches.js, once the server shows it has watches: without them nothing is counted). */
export function startVolume() {
  const panes = document.getElementById("panes");
  if (!panes || started) return;
  started = true;
  const volume = new Volume();
  new MutationObserver(() => {
    if (panes.querySelector(".pane-head:not(:has(.volumes))")) volume.draw();
  }).observe(panes, { childList: true });
  const tick = async () => {
    if (await volume.poll()) setTimeout(tick, POLL_MS);
  };
  tick();
}
