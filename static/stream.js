// One EventSource on the multi-log stream, with resume after failures and client-side de-duplication.
//
// The browser reconnects by itself after a network error and sends Last-Event-ID. A non-200 answer (a 502
// during a deploy, a 503 "too many clients") closes the EventSource for good: then we ask the server why
// (a plain fetch of the same URL), and either show its error (bad regex, unknown log) or open a new
// EventSource after a backoff, passing the last id we saw as `last_event_id=` so nothing is lost or repeated.

const FATAL_STATUSES = new Set([400, 401, 403, 404, 422]);
const PROBE_TIMEOUT_MS = 5000;
const MAX_BACKOFF_MS = 15000;

/** The `name=fid:offset` entry for `log` in an event id (one or more comma-separated entries). */
export function parseCursor(id, log) {
  if (typeof id !== "string") return null;
  for (const entry of id.split(",")) {
    const eq = entry.indexOf("=");
    const colon = entry.lastIndexOf(":");
    if (eq <= 0 || colon < eq) continue;
    const name = entry.slice(0, eq).trim();
    if (log !== undefined && name !== log) continue;
    const offset = Number(entry.slice(colon + 1));
    if (!Number.isSafeInteger(offset)) continue;
    return { log: name, fid: entry.slice(eq + 1, colon), offset };
  }
  return null;
}

/** FastAPI's `detail`: a string, or a list of validation errors. */
export function formatDetail(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => {
      const loc = Array.isArray(d?.loc) ? d.loc.filter((x) => x !== "query").join(".") : "";
      const msg = String(d?.msg ?? JSON.stringify(d));
      return loc ? `${loc}: ${msg}` : msg;
    }).join("; ");
  }
  return detail ? JSON.stringify(detail) : "";
}

/** Why did the stream fail? Fetch the same URL, read the status (and error detail), then abort. */
async function probe(url) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), PROBE_TIMEOUT_MS);
  try {
    const res = await fetch(url, { signal: ctl.signal, cache: "no-store", headers: { Accept: "text/event-stream" } });
    const answer = { status: res.status, detail: "", retryAfter: Number(res.headers.get("Retry-After")) || 0 };
    if (!res.ok) {
      try {
        answer.detail = formatDetail((await res.json()).detail);
      } catch {
        // not JSON (a proxy's error page): the status says enough
      }
    }
    return answer;
  } catch {
    return { status: 0, detail: "", retryAfter: 0 };
  } finally {
    clearTimeout(timer);
    ctl.abort();
  }
}

export class LogStream {
  /**
   * @param {{onLine: Function, onNotice: Function, onStatus: Function, onFatal: Function}} handlers
   *   onStatus(state, text) with state "connecting" | "live" | "reconnecting" | "error" | "idle".
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.es = null;
    this.url = "";
    this.gen = 0; // bumped on every (re)connect and close: events of older EventSources are ignored
    this.cursors = new Map(); // log -> {log, fid, offset} of the last line shown
    this.lastId = "";
    this.attempts = 0;
    this.retryTimer = 0;
  }

  /** Start a fresh stream (new filters or logs): no resume, the server sends the backlog. */
  open(url) {
    this.close();
    this.url = url;
    this.cursors.clear();
    this.lastId = "";
    this.attempts = 0;
    this.connect(false);
  }

  close() {
    this.gen++;
    clearTimeout(this.retryTimer);
    if (this.es) {
      this.es.close();
      this.es = null;
    }
  }

  /** The id to resume from: the server's last event id, updated with the newest cursor of each log. */
  resumeId() {
    const entries = new Map();
    for (const entry of this.lastId ? this.lastId.split(",") : []) {
      const c = parseCursor(entry);
      if (c) entries.set(c.log, c);
    }
    for (const [log, c] of this.cursors) entries.set(log, c);
    return [...entries.values()].map((c) => `${c.log}=${c.fid}:${c.offset}`).join(",");
  }

  connect(resume) {
    clearTimeout(this.retryTimer);
    if (this.es) this.es.close();
    const gen = ++this.gen;
    let url = this.url;
    const id = resume ? this.resumeId() : "";
    if (id) url += `${url.includes("?") ? "&" : "?"}last_event_id=${encodeURIComponent(id)}`;
    this.handlers.onStatus(resume ? "reconnecting" : "connecting", resume ? "reconnecting…" : "connecting…");
    const es = new EventSource(url);
    this.es = es;
    es.addEventListener("open", () => {
      if (gen !== this.gen) return;
      this.attempts = 0;
      this.handlers.onStatus("live", "live");
    });
    es.addEventListener("line", (ev) => { if (gen === this.gen) this.onLine(ev); });
    es.addEventListener("notice", (ev) => { if (gen === this.gen) this.onNotice(ev); });
    es.addEventListener("error", () => {
      if (gen !== this.gen) return;
      if (es.readyState === EventSource.CONNECTING && !id) {
        this.handlers.onStatus("reconnecting", "reconnecting…"); // the browser retries with Last-Event-ID
        return;
      }
      // Closed for good by the browser, or about to retry a URL whose last_event_id is now stale (the
      // query would win over the newer Last-Event-ID header): take over with a fresh id.
      es.close();
      this.es = null;
      this.recover(url, gen);
    });
  }

  async recover(url, gen) {
    this.handlers.onStatus("reconnecting", "connection lost…");
    const answer = await probe(url);
    if (gen !== this.gen) return;
    if (FATAL_STATUSES.has(answer.status)) {
      const text = answer.detail || `HTTP ${answer.status}`;
      // The message itself goes to onFatal (an alert); the status, a live region too, only says why it stopped.
      this.handlers.onStatus("error", "stopped: error");
      this.handlers.onFatal(text, answer.status);
      return;
    }
    const delay = answer.retryAfter > 0 ? answer.retryAfter * 1000 : this.backoff();
    this.attempts++;
    const why = answer.status ? `HTTP ${answer.status}` : "server unreachable";
    this.handlers.onStatus("reconnecting", `reconnecting in ${Math.ceil(delay / 1000)} s (${why})`);
    this.retryTimer = setTimeout(() => { if (gen === this.gen) this.connect(true); }, delay);
  }

  backoff() {
    // 1 s, 1.5 s, 2.3 s, ... up to 15 s, with jitter so that many tabs do not retry in step.
    return Math.min(MAX_BACKOFF_MS, 1000 * 1.5 ** this.attempts) + Math.random() * 250;
  }

  onLine(ev) {
    const data = parse(ev.data);
    if (!data) return;
    const cursor = parseCursor(data.id ?? ev.lastEventId, data.log);
    if (cursor) {
      const seen = this.cursors.get(cursor.log);
      if (seen && seen.fid === cursor.fid && cursor.offset <= seen.offset) return; // shown already
      this.cursors.set(cursor.log, cursor);
    }
    if (ev.lastEventId) this.lastId = ev.lastEventId;
    this.handlers.onLine(data);
  }

  onNotice(ev) {
    const data = parse(ev.data);
    if (!data) return;
    // After a rotation or truncation offsets start again: forget the old position of that log.
    if ((data.kind === "truncated" || data.kind === "rotated") && data.log) this.cursors.delete(data.log);
    if (data.kind === "shutdown") this.handlers.onStatus("reconnecting", "server is restarting…");
    this.handlers.onNotice(data);
  }
}

function parse(text) {
  try {
    const value = JSON.parse(text);
    return value !== null && typeof value === "object" ? value : null;
  } catch {
    return null;
  }
}
