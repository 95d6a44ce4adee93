// Building the DOM for one log line (with its field columns) or notice. Every log text is untrusted: it only
// ever reaches the page through text nodes (textContent / Text), never through innerHTML or insertAdjacentHTML.

import { colourClass } from "./colours.js";
import { isScalar, lineFields, tryJson } from "./fields.js";
import { severityOf } from "./notices.js";
import { LEVELS, config } from "./page.js";

const NOTICE_KINDS = new Set(config.noticeKinds);
const MAX_MARKS = 200;
const MAX_CELL_CHARS = 200;

// Escape sequences: CSI (ESC [ params intermediates final), OSC (ESC ] ... BEL or ST), other two-byte
// escapes, and a lone ESC. Other C0 controls (except tab) are dropped too.
const ESCAPES = /\x1b(?:\[([0-?]*)[ -\/]*([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_]|)/g;
const CONTROLS = /[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]/g;
const NEEDS_ANSI = /[\x00-\x08\x0b-\x1f\x7f]/;

const textOf = new WeakMap(); // line element -> the line's raw text (for copy and lazy JSON)

// ---- ANSI SGR -------------------------------------------------------------------------------------------

const PLAIN = Object.freeze({ fg: null, bg: null, bold: false, dim: false, italic: false, underline: false });

function applySgr(style, params) {
  if (!/^[0-9;:]*$/.test(params)) return style; // private sequences such as ESC[?25m: ignore
  const codes = params === "" ? [0] : params.split(/[;:]/).map((p) => (p === "" ? 0 : Number(p)));
  const s = { ...style };
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === 0) Object.assign(s, PLAIN);
    else if (c === 1) s.bold = true;
    else if (c === 2) s.dim = true;
    else if (c === 3) s.italic = true;
    else if (c === 4) s.underline = true;
    else if (c === 22) s.bold = s.dim = false;
    else if (c === 23) s.italic = false;
    else if (c === 24) s.underline = false;
    else if (c >= 30 && c <= 37) s.fg = c - 30;
    else if (c === 39) s.fg = null;
    else if (c >= 40 && c <= 47) s.bg = c - 40;
    else if (c === 49) s.bg = null;
    else if (c >= 90 && c <= 97) s.fg = c - 90 + 8;
    else if (c >= 100 && c <= 107) s.bg = c - 100 + 8;
    else if (c === 38 || c === 48) {
      // 256-colour (5;n) maps its first 16 entries to our classes; true colour (2;r;g;b) is skipped.
      const key = c === 38 ? "fg" : "bg";
      if (codes[i + 1] === 5) {
        if (codes[i + 2] < 16) s[key] = codes[i + 2];
        i += 2;
      } else if (codes[i + 1] === 2) {
        i += 4;
      }
    }
  }
  return s;
}

function styleClasses(s) {
  const out = [];
  if (s.fg !== null) out.push(`ansi-fg-${s.fg}`);
  if (s.bg !== null) out.push(`ansi-bg-${s.bg}`);
  if (s.bold) out.push("ansi-bold");
  if (s.dim) out.push("ansi-dim");
  if (s.italic) out.push("ansi-italic");
  if (s.underline) out.push("ansi-underline");
  return out.join(" ");
}

/** Split text into [{text, cls}] segments; SGR codes become classes, other escapes are removed. */
export function parseAnsi(text) {
  if (!NEEDS_ANSI.test(text)) return [{ text, cls: "" }];
  const segments = [];
  let style = PLAIN;
  let last = 0;
  const push = (chunk) => {
    const clean = chunk.replace(CONTROLS, "");
    if (clean) segments.push({ text: clean, cls: styleClasses(style) });
  };
  for (const m of text.matchAll(ESCAPES)) {
    if (m.index > last) push(text.slice(last, m.index));
    if (m[2] === "m") style = applySgr(style, m[1]);
    last = m.index + m[0].length;
  }
  if (last < text.length) push(text.slice(last));
  return segments;
}

export function stripAnsi(text) {
  return NEEDS_ANSI.test(text) ? text.replace(ESCAPES, "").replace(CONTROLS, "") : text;
}

// ---- highlighting ---------------------------------------------------------------------------------------

/**
 * A function returning [start, end] ranges of the filter's matches in a text, or null when there is
 * nothing to highlight (no filter, inverted filter, or a pattern JavaScript cannot compile).
 */
export function makeMatcher({ q, regex, ignoreCase, invert }) {
  if (!q || invert) return null;
  if (regex) {
    let source = q;
    let flags = "g";
    if (ignoreCase) flags += "i";
    const inline = /^\(\?i\)/.exec(source); // RE2 inline flag; JavaScript wants it as a flag
    if (inline) {
      source = source.slice(inline[0].length);
      if (!flags.includes("i")) flags += "i";
    }
    let re;
    try {
      re = new RegExp(source, flags);
    } catch {
      return null;
    }
    return (text) => regexRanges(re, text);
  }
  const needle = ignoreCase ? q.toLowerCase() : q;
  return (text) => substringRanges(ignoreCase ? text.toLowerCase() : text, needle);
}

function regexRanges(re, text) {
  const ranges = [];
  re.lastIndex = 0;
  let m;
  while (ranges.length < MAX_MARKS && (m = re.exec(text)) !== null) {
    if (m[0].length === 0) {
      re.lastIndex++;
      continue;
    }
    ranges.push([m.index, m.index + m[0].length]);
  }
  return ranges;
}

function substringRanges(haystack, needle) {
  const ranges = [];
  let at = haystack.indexOf(needle);
  while (at >= 0 && ranges.length < MAX_MARKS) {
    ranges.push([at, at + needle.length]);
    at = haystack.indexOf(needle, at + needle.length);
  }
  return ranges;
}

/** Append `text` to `parent`, wrapping matches in <mark> by splitting it into text nodes. */
export function appendHighlighted(parent, text, matcher) {
  const ranges = matcher ? matcher(text) : null;
  if (!ranges || ranges.length === 0) {
    parent.append(text);
    return;
  }
  let last = 0;
  for (const [start, end] of ranges) {
    const s = Math.min(start, text.length);
    const e = Math.min(end, text.length);
    if (s > last) parent.append(text.slice(last, s));
    if (e > s) {
      const mark = document.createElement("mark");
      mark.textContent = text.slice(s, e);
      parent.append(mark);
    }
    last = Math.max(last, e);
  }
  if (last < text.length) parent.append(text.slice(last));
}

// ---- JSON lines -----------------------------------------------------------------------------------------

const SUMMARY_FIELDS = [
  ["time", "timestamp", "ts", "@timestamp", "datetime", "date", "t"],
  ["level", "lvl", "severity", "levelname", "log.level"],
  ["msg", "message", "event", "@message", "text"],
];

function scalar(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** One readable line for a JSON object: time, level, message first, then key=value pairs. */
export function jsonSummary(obj) {
  const used = new Set();
  const parts = [];
  SUMMARY_FIELDS.forEach((names, i) => {
    const key = names.find((k) => Object.hasOwn(obj, k) && isScalar(obj[k]));
    if (key === undefined) return;
    used.add(key);
    const value = scalar(obj[key]);
    parts.push(i === 1 ? value.toUpperCase() : value);
  });
  for (const [key, value] of Object.entries(obj)) {
    if (!used.has(key)) parts.push(`${key}=${scalar(value)}`);
  }
  return stripAnsi(parts.join(" ")).slice(0, 4000);
}

function buildJson(obj, matcher) {
  const details = document.createElement("details");
  details.className = "json";
  const summary = document.createElement("summary");
  summary.className = "text";
  appendHighlighted(summary, jsonSummary(obj), matcher);
  details.append(summary);
  return details; // the pretty-printed body is built when first opened (see fillJsonDetails)
}

/** Build the pretty-printed view of a JSON line the first time its <details> opens. */
export function fillJsonDetails(details, matcher) {
  if (details.querySelector("pre")) return;
  const line = details.closest(".line");
  const obj = line ? tryJson(textOf.get(line) ?? "") : null;
  if (!obj) return;
  const pre = document.createElement("pre");
  pre.className = "json-pretty";
  appendHighlighted(pre, stripAnsi(JSON.stringify(obj, null, 2)), matcher);
  details.append(pre);
}

// ---- field columns --------------------------------------------------------------------------------------

/** The column cells of a line: one per picked key, its value clickable (adds key:value as a filter); a key
 * the line lacks is a blank cell. `widths.note(i, chars)` hears each value's length (columns.js). */
function buildCells(text, columns, sent, widths) {
  const fields = lineFields(text, sent);
  const box = document.createElement("span");
  box.className = "cells";
  columns.forEach((key, i) => {
    const value = fields && Object.hasOwn(fields, key) ? String(fields[key]) : null;
    const cell = document.createElement(value === null ? "span" : "button");
    cell.className = value === null ? "cell cell-missing" : "cell";
    cell.dataset.key = key;
    if (value !== null) {
      widths?.note(i, Math.min(value.length, MAX_CELL_CHARS));
      cell.type = "button";
      cell.dataset.value = value;
      cell.title = `${key}: ${value.slice(0, 500)} (click to filter on it)`;
      cell.textContent = value.length > MAX_CELL_CHARS ? `${value.slice(0, MAX_CELL_CHARS)}…` : value;
    }
    box.append(cell);
  });
  return box;
}

// ---- lines and notices ----------------------------------------------------------------------------------

function buildText(text, matcher) {
  const span = document.createElement("span");
  span.className = "text";
  for (const seg of parseAnsi(text)) {
    if (seg.cls) {
      const styled = document.createElement("span");
      styled.className = seg.cls;
      appendHighlighted(styled, seg.text, matcher);
      span.append(styled);
    } else {
      appendHighlighted(span, seg.text, matcher);
    }
  }
  return span;
}

/** A multi-line event (a traceback): its first line, a "+N lines" toggle, and the rest, collapsed. */
function buildEvent(text, nl, matcher) {
  const rest = buildText(text.slice(nl + 1), matcher);
  rest.classList.add("event-rest");
  rest.hidden = true;
  const count = text.split("\n").length - 1;
  const toggle = document.createElement("button");
  toggle.type = "button";
  toggle.className = "more-lines";
  toggle.textContent = `+${count} line${count === 1 ? "" : "s"}`;
  toggle.setAttribute("aria-expanded", "false");
  toggle.addEventListener("click", (ev) => {
    ev.stopPropagation(); // not a click on the line itself
    rest.hidden = !rest.hidden;
    toggle.setAttribute("aria-expanded", String(!rest.hidden));
  });
  return [buildText(text.slice(0, nl), matcher), toggle, rest];
}

function buildTag(log) {
  const tag = document.createElement("span");
  tag.className = `tag ${colourClass(log)}`;
  // A log shipped from another host is NAME@HOST: the host gets its own part of the tag.
  const at = log.lastIndexOf("@");
  if (at > 0) {
    const host = document.createElement("span");
    host.className = "tag-host";
    host.textContent = log.slice(at);
    tag.append(log.slice(0, at), host);
    tag.dataset.host = log.slice(at + 1);
  } else {
    tag.textContent = log;
  }
  return tag;
}

/** The element for one `line` event: {log, text, id, level, truncated?, fields?}; `columns`: field keys shown
 * as cells, `widths` hears their values' lengths. */
export function buildLine(data, matcher, columns, widths) {
  const text = typeof data.text === "string" ? data.text : String(data.text ?? "");
  const log = String(data.log ?? "");
  const el = document.createElement("div");
  el.className = LEVELS.includes(data.level) ? `line lvl-${data.level}` : "line";
  el.dataset.log = log;
  if (typeof data.id === "string") el.dataset.id = data.id; // the cursor to page back from (history.js)
  textOf.set(el, text);
  el.append(buildTag(log));
  if (columns?.length) {
    el.classList.add("has-cells");
    el.append(buildCells(text, columns, data.fields, widths));
  }
  const obj = tryJson(text);
  const nl = obj ? -1 : text.indexOf("\n");
  if (nl >= 0) el.append(...buildEvent(text, nl, matcher));
  else el.append(obj ? buildJson(obj, matcher) : buildText(text, matcher));
  if (data.truncated) {
    const cut = document.createElement("span");
    cut.className = "truncated";
    cut.textContent = "… (truncated)";
    el.append(cut);
  }
  return el;
}

/** The element for a `notice` event: {log, kind, message, missed?}. */
export function buildNotice(data) {
  const kind = NOTICE_KINDS.has(data.kind) ? data.kind : "other";
  const el = document.createElement("div");
  el.className = `notice notice-${kind} sev-${severityOf(kind)}`;
  el.setAttribute("role", "note");
  if (data.log) {
    el.dataset.log = String(data.log);
    el.append(buildTag(String(data.log)));
  }
  const body = document.createElement("span");
  body.className = "text";
  let message = `${String(data.kind ?? "notice")}: ${stripAnsi(String(data.message ?? ""))}`;
  if (typeof data.missed === "number") message += ` (${data.missed} line${data.missed === 1 ? "" : "s"} missed)`;
  body.textContent = message;
  el.append(body);
  return el;
}

/** A marker the page itself adds (view cleared, filters changed, ...). */
export function buildMarker(message) {
  const el = document.createElement("div");
  el.className = "marker";
  el.setAttribute("role", "note");
  el.textContent = message;
  return el;
}

/** The raw text of a rendered line (what the copy button copies). */
export function lineText(el) {
  return textOf.get(el) ?? el.textContent ?? "";
}
