// The fields of a line, read the way the server reads them (logtail/fields.py): a JSON object's top-level
// keys, or a logfmt line made only of key=value pairs; and the shape of a field filter (`field=`). Pure: no
// DOM. The logfmt pair and the filter operators are the server's own, from the page's configuration.

import { config } from "./page.js";

const MAX_KEYS = 100; // distinct keys remembered for the column picker
const MAX_JSON_CHARS = 200000;

// The server writes the pair's pattern in the syntax Python and JavaScript share, so it is compiled as it
// comes ("y": matched at lastIndex, as Python's pattern.match(text, pos)). One difference is left: Python's
// \s also matches U+001C-U+001F and U+0085, JavaScript's also U+FEFF; a line with those is split
// differently here, which only changes the columns shown (the server does the filtering).
const PAIR = compilePair(config.fieldGrammar.logfmtPair);
const OPERATORS = config.fieldGrammar.operators; // tried in this order at each position, as the server does

function compilePair(source) {
  if (!source) return null;
  try {
    return new RegExp(source, "y");
  } catch {
    return null;
  }
}

// ---- JSON lines -----------------------------------------------------------------------------------------

// Numbers are shown as they are written: a plain JSON.parse turns 1234567890123456789 into
// 1234567890123456800 and 1e400 into Infinity (printed as null). Where the browser gives the reviver each
// value's source text, a number is kept as JSON.rawJSON(source), which JSON.stringify prints verbatim;
// elsewhere a JSON line with a number is not read at all and shows as its raw text.
const NUMBERS_AS_WRITTEN = (() => {
  try {
    let source;
    JSON.parse("[1.50]", (key, value, context) => {
      if (typeof value === "number") source = context?.source;
      return value;
    });
    return source === "1.50" && typeof JSON.rawJSON === "function" && typeof JSON.isRawJSON === "function";
  } catch {
    return false;
  }
})();

function keepNumberText(key, value, context) {
  return typeof value === "number" ? JSON.rawJSON(context.source) : value;
}

function refuseNumbers(key, value) {
  if (typeof value === "number") throw new RangeError("this browser cannot show the number as written");
  return value;
}

/** The JSON object a line is (numbers kept as written), or null. */
export function tryJson(text) {
  const t = text.trim();
  if (t.length < 2 || t.length > MAX_JSON_CHARS || t[0] !== "{" || t[t.length - 1] !== "}") return null;
  try {
    const value = JSON.parse(t, NUMBERS_AS_WRITTEN ? keepNumberText : refuseNumbers);
    return value !== null && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/** A string, boolean or number (kept as written) of a tryJson object: one value, not an object or list. */
export function isScalar(value) {
  if (value === null) return false;
  return typeof value !== "object" || (NUMBERS_AS_WRITTEN && JSON.isRawJSON(value));
}

// ---- logfmt lines ---------------------------------------------------------------------------------------

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
  if (pos === text.length || !PAIR) return null;
  const out = {};
  while (pos < text.length) {
    PAIR.lastIndex = pos;
    const m = PAIR.exec(text);
    if (!m || PAIR.lastIndex === pos) return null;
    out[m[1]] = m[2] === undefined ? m[3] : unquote(m[2]);
    pos = PAIR.lastIndex;
  }
  return out;
}

// ---- fields and field filters ---------------------------------------------------------------------------

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

/** Whether `value` is a line's carried fields (a journal entry's: `fields` in its JSON), {key: text}. */
export function isFieldMap(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
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
  if (!isFieldMap(sent)) return parseFields(text);
  // A parsed log's fields come only from the server; a journal line's entry fields win over its text's own.
  const own = text.startsWith("{") || text.includes("=") ? parseFields(text) : null;
  return own ? { ...own, ...sent } : sent;
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
