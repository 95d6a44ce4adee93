// A watch's live view, in a dialog over the page: its filter over its logs (the stream of
// /api/watches/NAME/stream, the same as /api/stream with those parameters), with the lines that fired its
// last alerts marked. The marks follow the watch: its recent alerts are asked for again while the view is open.
import { config, el } from "./page.js";

const BACKLOG = 200;
const MAX_LINES = 1000;
const MARKS_REFRESH_MS = 5000;

/** The ids of the lines carried by a watch's recent alerts (pure: unit-testable). */
export function firedIds(watch) {
  const alerts = watch.recent_alerts ?? (watch.last_alert ? [watch.last_alert] : []);
  return new Set(alerts.flatMap((alert) => (alert.lines ?? []).map((line) => line.id)));
}

function lineItem(data, fired) {
  const item = el("li", `watch-line lvl-${data.level ?? "none"}`);
  item.dataset.id = data.id;
  item.append(el("span", "watch-line-log muted", data.log), el("span", "watch-line-text", data.text));
  mark(item, fired);
  return item;
}

function mark(item, fired) {
  const on = fired.has(item.dataset.id);
  if (on === item.classList.contains("fired")) return;
  item.classList.toggle("fired", on);
  if (on) item.prepend(el("span", "fired-label", "alert"));
  else item.querySelector(".fired-label")?.remove();
}

class WatchView {
  constructor(watch) {
    this.name = watch.name;
    this.fired = firedIds(watch);
    this.dialog = el("dialog", "watch-view");
    this.dialog.setAttribute("aria-labelledby", "watch-view-title");
    const head = el("header", "watch-view-head");
    const title = el("h2", "", `Watch ${watch.name}`);
    title.id = "watch-view-title";
    const close = el("button", "btn btn-small", "Close");
    close.type = "button";
    close.addEventListener("click", () => this.dialog.close());
    const filter = Object.entries(watch.filter).map(([k, v]) => `${k}=${[].concat(v).join(",")}`).join(" ");
    head.append(title, el("span", "muted", `${filter} · ${watch.logs.join(", ")}`), close);
    this.status = el("p", "watch-view-status muted", "Connecting…");
    this.status.setAttribute("role", "status");
    this.list = el("ol", "watch-lines");
    this.list.setAttribute("aria-label", `Lines of watch ${watch.name}`);
    this.dialog.append(head, this.status, this.list);
    this.dialog.addEventListener("close", () => this.stop());
    document.body.append(this.dialog);
  }

  open() {
    this.dialog.showModal();
    const url = `${config.root}/api/watches/${encodeURIComponent(this.name)}/stream?format=sse&backlog=${BACKLOG}`;
    this.source = new EventSource(url);
    this.source.addEventListener("open", () => { this.status.textContent = "Live: new matches appear below."; });
    this.source.addEventListener("line", (ev) => this.add(JSON.parse(ev.data)));
    this.source.addEventListener("error", () => { this.status.textContent = "Disconnected; retrying…"; });
    this.timer = setInterval(() => this.refreshMarks(), MARKS_REFRESH_MS);
  }

  add(data) {
    const stick = this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - 4;
    this.list.append(lineItem(data, this.fired));
    while (this.list.childElementCount > MAX_LINES) this.list.firstElementChild.remove();
    if (stick) this.list.scrollTop = this.list.scrollHeight;
  }

  async refreshMarks() {
    try {
      const response = await fetch(`${config.root}/api/watches/${encodeURIComponent(this.name)}`);
      if (!response.ok) return;
      this.fired = firedIds(await response.json());
    } catch {
      return; // the server is away: the marks stay as they were
    }
    for (const item of this.list.children) mark(item, this.fired);
  }

  stop() {
    this.source?.close();
    clearInterval(this.timer);
    this.dialog.remove();
  }
}

/** Open the live view of `watch` (an object of /api/watches). */
export function openWatchView(watch) {
  const view = new WatchView(watch);
  view.open();
  return view;
}
