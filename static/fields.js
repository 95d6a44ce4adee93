// Fields of structured lines on the page: columns the user picks, and field filters (`field=` on the
// server) added by clicking a value and shown as removable chips. A line's fields are read the way the
// server reads them (logtail/fields.py): a JSON object's top-level keys, or a logfmt line made only of
// key=value pairs. Values reach the page only as text nodes.

import { tryJson } from "./render.js";

const PAIR = /([^\s="]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s"]*))(?:\s+|$)/y;
const MAX_KEYS = 100; // distinct keys remembered for the column picker
const MAX_CELL_CHARS = 200;
export const OPERATORS = ["!:", ":", "~", ">=", "<=", ">", "<"];

function unquote(inner) {
  if (!inner.includes("\\")) return inner;
  try {
    return JSON.parse(`"${inner}"`);
  } catch {
    return inner;
  }
}

function logfmt(text) {
  let pos = text.length - text.trimStart().length;
  if (pos === text.length) return null;
  const out = {};
  while (pos < text.length) {
    PAIR.lastIndex = pos;
    const m = PAIR.exec(text);
    if (!m) return null;
    out[m[1]] = m[2] === undefined ? m[3] : unquote(m[2]);
    pos = PAIR.lastIndex;
  }
  return out;
}

/** {key: text} for a JSON object or logfmt line, or null. */
export function parseFields(text) {
  if (text.startsWith("{")) {
    const obj = tryJson(text);
    if (!obj) return null;
    const out = {};
    for (const [key, value] of Object.entries(obj)) out[key] = typeof value === "string" ? value : JSON.stringify(value);
    return out;
  }
  return logfmt(text);
}

/** Whether `expr` reads as KEY OP VALUE (the server checks the rest and answers with an error). */
export function isFieldFilter(expr) {
  const at = firstOperator(expr);
  return at !== null && at.index > 0;
}

function firstOperator(expr) {
  for (let i = 0; i < expr.length; i++) {
    const op = OPERATORS.find((o) => expr.startsWith(o, i));
    if (op) return { index: i, op };
  }
  return null;
}

/** A line's fields: those the server sent (a log with a parser: `fields` in the line's JSON), else the
 * fields of a JSON or logfmt line, read here as the server reads them. */
export function lineFields(text, sent) {
  if (sent && typeof sent === "object" && !Array.isArray(sent)) return sent;
  return parseFields(text);
}

/** The keys seen in the lines received so far, for the column picker. */
export class KeyTracker {
  constructor() {
    this.keys = new Set();
  }

  note(text, sent) {
    if (this.keys.size >= MAX_KEYS || !(sent || text.startsWith("{") || text.includes("="))) return;
    const fields = lineFields(text, sent);
    if (!fields) return;
    for (const key of Object.keys(fields)) {
      if (this.keys.size >= MAX_KEYS) break;
      this.keys.add(key);
    }
  }
}

/** The column cells of a line: one per picked key, its value clickable (adds key:value as a filter). */
export function buildCells(text, columns, sent) {
  const fields = lineFields(text, sent);
  const box = document.createElement("span");
  box.className = "cells";
  for (const key of columns) {
    const value = fields && Object.hasOwn(fields, key) ? String(fields[key]) : null;
    const cell = document.createElement(value === null ? "span" : "button");
    cell.className = value === null ? "cell empty" : "cell";
    cell.dataset.key = key;
    if (value === null) {
      cell.textContent = "–";
    } else {
      cell.type = "button";
      cell.dataset.value = value;
      cell.title = `${key}: ${value.slice(0, 500)} (click to filter on it)`;
      cell.textContent = value.length > MAX_CELL_CHARS ? `${value.slice(0, MAX_CELL_CHARS)}…` : value;
    }
    box.append(cell);
  }
  return box;
}

/** One removable chip per active field filter. */
export function renderChips(container, filters) {
  container.replaceChildren(...filters.map((expr, index) => {
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = "field-chip";
    chip.dataset.index = String(index);
    chip.title = `Remove the filter ${expr}`;
    chip.setAttribute("aria-label", `Remove field filter ${expr}`);
    chip.append(document.createTextNode(expr), Object.assign(document.createElement("span"), {
      className: "x", textContent: "×" }));
    return chip;
  }));
  container.hidden = filters.length === 0;
}

/** The column picker's checkboxes: the picked columns first, then the other keys seen. */
export function renderColumnPicker(list, keys, columns) {
  const all = [...columns, ...[...keys].filter((k) => !columns.includes(k)).sort()];
  list.replaceChildren(...all.map((key) => {
    const label = document.createElement("label");
    label.className = "column-pick";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = key;
    box.checked = columns.includes(key);
    label.append(box, document.createTextNode(key));
    return label;
  }));
  if (all.length === 0) {
    list.append(Object.assign(document.createElement("p"), {
      className: "muted", textContent: "No JSON or logfmt lines received yet." }));
  }
}
