// The panes the lines are shown in: one merged pane for all the selected logs, or one per log side by side,
// each under a header (the logs, their sizes and download links, "Clear view"). The items received lately
// are kept, so that the panes can be laid out again (view mode, columns) without a new stream.

import { colourClass } from "./colours.js";
import { ColumnWidths, columnsHeader } from "./columns.js";
import { downloadLink, el, humanSize } from "./page.js";
import { Pane } from "./pane.js";

export class Panes {
  /**
   * @param {Map<string, object>} logs  the logs the server lists, by name (for their sizes)
   * @param {{matcher: Function|null, columns: string[], widths?: ColumnWidths}} ctx  shared rendering
   *   context of the panes (the column widths are set here)
   */
  constructor(logs, ctx) {
    this.logs = logs;
    this.ctx = ctx;
    this.container = document.getElementById("panes");
    ctx.widths = new ColumnWidths(this.container);
    this.empty = document.getElementById("empty");
    this.panes = [];
    this.paneOf = new Map(); // log name -> Pane, side-by-side view
    this.names = []; // the logs shown
    this.view = "merged";
    this.maxLines = 0;
    this.recent = []; // items given to the panes, to lay them out again when the view mode changes
  }

  /** Lay the panes out for `names` with the view state's mode, wrapping and line cap; recent items again. */
  build(names, { view, wrap, maxLines }) {
    for (const pane of this.panes) pane.destroy();
    this.container.textContent = "";
    this.panes = [];
    this.paneOf = new Map();
    this.names = names;
    this.view = view;
    this.maxLines = maxLines;
    this.container.dataset.view = view;
    this.container.classList.toggle("nowrap", !wrap);
    this.container.classList.toggle("with-columns", this.ctx.columns.length > 0);
    this.ctx.widths.reset(this.ctx.columns, names);
    this.empty.hidden = names.length > 0;
    if (names.length === 0) return;
    const cap = this.cap(view === "split" ? names.length : 1);
    if (view === "split") {
      for (const name of names) {
        const pane = new Pane(this.head([name], true), this.ctx, cap);
        this.paneOf.set(name, pane);
        this.panes.push(pane);
      }
    } else {
      this.panes.push(new Pane(this.head(names, false), this.ctx, cap));
    }
    for (const pane of this.panes) {
      if (this.ctx.columns.length) pane.body.prepend(columnsHeader(this.ctx.columns));
      this.container.append(pane.el);
    }
    for (const item of this.recent) this.route(item);
  }

  cap(count) {
    return Math.max(10, Math.floor(this.maxLines / Math.max(1, count)));
  }

  head(names, single) {
    const head = el("header", "pane-head");
    const title = el("div", "pane-title");
    for (const name of names) {
      const chip = el("span", "pane-log");
      chip.append(el("span", `swatch ${colourClass(name)}`), el("span", "log-name", name));
      const size = el("span", "log-size muted", humanSize(this.logs.get(name)?.size));
      size.dataset.sizeOf = name;
      chip.append(size, downloadLink(name));
      title.append(chip);
    }
    const clear = el("button", "btn btn-small", "Clear view");
    clear.type = "button";
    clear.dataset.action = "clear";
    if (single) clear.dataset.log = names[0];
    clear.title = single ? `Clear ${names[0]} from the view` : "Clear the view";
    head.append(title, clear);
    return head;
  }

  /** The panes and the logs each shows (for add-ons: see viewInfo in app.js). */
  shown() {
    return this.panes.map((pane, i) => ({ pane, logs: this.view === "split" ? [this.names[i]] : this.names }));
  }

  /** Give an item of the stream to the pane that shows its log (rendered on the next flush). */
  receive(item) {
    this.recent.push(item);
    if (this.recent.length > 2 * this.maxLines + 1000) this.recent.splice(0, this.recent.length - this.maxLines);
    this.route(item);
  }

  route(item) {
    const log = item.data?.log;
    if (this.view === "split" && log && this.paneOf.has(log)) this.paneOf.get(log).enqueue(item);
    else if (this.view === "split" && log) return; // a log not shown (should not happen)
    else for (const pane of this.panes) pane.enqueue(item);
  }

  /** A marker of the page's own (why the view was cleared) at the end of every pane. */
  mark(message) {
    for (const pane of this.panes) pane.enqueue({ kind: "marker", message });
  }

  /** Render what the panes have queued (once per animation frame). */
  flush() {
    for (const pane of this.panes) pane.flush();
    this.ctx.widths.apply();
  }

  /** Forget the recent items (a new stream starts from its backlog). */
  forget() {
    this.recent = [];
  }

  /** "Clear view": of one log, or of all when `name` is empty. */
  clear(name) {
    if (name) {
      this.recent = this.recent.filter((item) => item.data?.log !== name);
      if (this.paneOf.has(name)) this.paneOf.get(name).clear("view cleared");
      else for (const pane of this.panes) pane.clearLog(name);
    } else {
      this.recent = [];
      for (const pane of this.panes) pane.clear("view cleared");
    }
  }

  setWrap(wrap) {
    this.container.classList.toggle("nowrap", !wrap);
    for (const pane of this.panes) pane.keepAtBottom();
  }

  setMaxLines(maxLines) {
    this.maxLines = maxLines;
    const cap = this.cap(this.panes.length || this.names.length);
    for (const pane of this.panes) pane.setCap(cap);
  }

  jumpToBottom() {
    for (const pane of this.panes) pane.jumpToBottom();
  }

  /** Show the sizes the server last listed in the panes' headers. */
  showSizes() {
    for (const node of this.container.querySelectorAll("[data-size-of]")) {
      node.textContent = humanSize(this.logs.get(node.dataset.sizeOf)?.size);
    }
  }

  stats() {
    return this.panes.map((pane) => pane.stats());
  }
}
