// One scrolling column of lines. Incoming items are queued and rendered once per animation frame (the
// app calls flush() from requestAnimationFrame); at most `cap` entries stay in the DOM, older ones are
// removed with a "N older lines dropped" marker. While the user has scrolled up, new items are held (not
// rendered) and counted on a "jump to bottom" button; only the newest `cap` of them can ever be shown, so
// at most that many (plus some slack) are kept, and the older ones count as dropped when the view jumps.
// Scroll-back (history.js) is told when the user wants older lines (`onOlderWanted`) and prepends them
// through `prependItems`; the pane's own elements stay its own.

import { LineNav, untab } from "./linenav.js";
import { buildLine, buildMarker, buildNotice, fillJsonDetails } from "./render.js";

const BOTTOM_SLACK_PX = 24;
const QUEUE_SLACK = 1000; // items beyond the cap a queue may grow by before it is cut back to the cap
const TOP_PX = 48; // a scroll this close to the top asks for older lines
const INTENT_MS = 1500; // ... only this soon after the user moved the view

export class Pane {
  /**
   * @param {HTMLElement} head  the pane's header (title and actions), built by the caller
   * @param {{matcher: Function|null}} ctx  shared rendering context (current filter highlighter)
   * @param {number} cap  maximum entries kept in the DOM
   */
  constructor(head, ctx, cap) {
    this.ctx = ctx;
    this.cap = cap;
    this.queue = [];
    this.queuedLines = 0; // line items in the queue, kept as it changes (the jump label needs it every frame)
    this.skipped = 0; // lines cut from the front of the queue: shown as dropped once the queue is rendered
    this.itemOf = new WeakMap(); // rendered entry -> the item it was built from
    this.follow = true;
    this.size = 0; // entries (lines, notices, markers) in the list
    this.lines = 0; // line entries in the list
    this.dropped = 0; // lines removed because of the cap
    this.touching = false;
    this.autoTop = 0; // scrollTop after our last scroll to the bottom
    this.intentAt = -Infinity; // when the user last moved the view (wheel, keys, touch, scrollbar)
    this.olderWanted = []; // callbacks of onOlderWanted
    this.el = document.createElement("section");
    this.el.className = "pane";
    this.body = document.createElement("div");
    this.body.className = "pane-body";
    this.body.tabIndex = 0;
    this.body.setAttribute("role", "log");
    this.body.setAttribute("aria-live", "off"); // role=log is polite by default: far too chatty at 2,000 lines/s
    this.body.setAttribute("aria-label", "Log lines");
    this.droppedEl = document.createElement("div");
    this.droppedEl.className = "dropped";
    this.droppedEl.hidden = true;
    this.list = document.createElement("div");
    this.list.className = "pane-lines";
    this.jump = document.createElement("button");
    this.jump.type = "button";
    this.jump.className = "jump";
    this.jump.hidden = true;
    this.copy = document.createElement("button"); // one per pane, moved to the line under the pointer
    this.copy.type = "button";
    this.copy.className = "copy";
    this.copy.title = "Copy this line";
    this.copy.setAttribute("aria-label", "Copy this line");
    this.copy.textContent = "copy";
    this.link = document.createElement("button"); // likewise: copies a link that opens the log around the line
    this.link.type = "button";
    this.link.className = "link";
    this.link.title = "Copy a link to this line (opens the log around it)";
    this.link.setAttribute("aria-label", "Copy a link to this line");
    this.link.textContent = "link";
    this.body.append(this.droppedEl, this.list);
    this.el.append(head, this.body, this.jump);
    this.bindScrolling();
    this.nav = new LineNav(this); // the keyboard: one Tab stop, arrow keys between lines
  }

  bindScrolling() {
    this.body.addEventListener("scroll", () => {
      this.onScroll();
      this.checkTop();
    }, { passive: true });
    // Chunks (content-visibility: auto) get their real height after their first layout, and the viewport
    // can change size: stay at the bottom while following, before the frame is painted.
    this.resizer = new ResizeObserver(() => { if (this.follow) this.scrollToBottom(); });
    this.resizer.observe(this.list);
    this.resizer.observe(this.body);
    // Intent to read older lines, seen before the scroll position moves far (smooth scrolling).
    const intent = () => { this.intentAt = performance.now(); };
    this.body.addEventListener("wheel", (e) => {
      if (e.deltaY >= 0) return;
      this.stopFollowing();
      intent();
      if (this.body.scrollTop <= 0) this.wantOlder(); // nothing left to scroll: no scroll event will come
    }, { passive: true });
    this.body.addEventListener("touchstart", () => {
      this.touching = true;
      intent();
    }, { passive: true });
    this.body.addEventListener("touchend", () => { this.touching = false; this.onScroll(); }, { passive: true });
    this.body.addEventListener("keydown", (e) => {
      if (!["PageUp", "ArrowUp", "Home"].includes(e.key)) return;
      this.stopFollowing();
      intent();
    });
    this.body.addEventListener("pointerdown", intent, { passive: true }); // the scrollbar
    this.body.addEventListener("toggle", (e) => {
      if (e.target instanceof HTMLDetailsElement && e.target.open) fillJsonDetails(e.target, this.ctx.matcher);
    }, true); // "toggle" does not bubble: listen in the capture phase
    this.jump.addEventListener("click", () => this.jumpToBottom());
    this.list.addEventListener("mouseover", (e) => {
      const line = e.target instanceof Element ? e.target.closest(".line") : null;
      if (line && this.copy.parentNode !== line) line.append(this.copy);
      if (line?.dataset.id && this.link.parentNode !== line) line.append(this.link);
    });
  }

  /** Stop observing; the caller removes the element. */
  destroy() {
    this.resizer.disconnect();
    this.nav.destroy();
    this.setQueue([]);
  }

  setQueue(items) {
    this.queue = items;
    this.queuedLines = countLines(items, 0, items.length);
  }

  atBottom() {
    const b = this.body;
    return b.scrollHeight - b.scrollTop - b.clientHeight <= BOTTOM_SLACK_PX;
  }

  onScroll() {
    if (this.follow) {
      // Only the user moves the view up: content growing below or old lines removed above do not.
      if (this.body.scrollTop < this.autoTop - BOTTOM_SLACK_PX) this.stopFollowing();
    } else if (this.atBottom() && !this.touching) {
      this.jumpToBottom();
    }
  }

  stopFollowing() {
    if (!this.follow) return;
    this.follow = false;
    this.updateJump();
  }

  /** Follow again: render everything held and stick to the bottom. */
  jumpToBottom() {
    this.follow = true;
    this.flush();
    this.scrollToBottom();
    this.updateJump();
  }

  scrollToBottom() {
    this.body.scrollTop = this.body.scrollHeight;
    this.autoTop = this.body.scrollTop;
  }

  /** After the lines' layout changed (wrapping, the cap): back to the bottom if following. */
  keepAtBottom() {
    if (this.follow) this.scrollToBottom();
  }

  /** Counters for debugging and the browser tests. */
  stats() {
    return { lines: this.lines, dropped: this.dropped, follow: this.follow, queued: this.queue.length };
  }

  enqueue(item) {
    this.queue.push(item);
    if (item.kind === "line") this.queuedLines++;
    // A hidden tab gets no animation frames, and a user scrolled up may read for an hour: only the last
    // `cap` items of a queue that long would be rendered, the list above them dropped. Cut it back now.
    if (this.queue.length > this.cap + QUEUE_SLACK) {
      const excess = this.queue.length - this.cap;
      const lines = countLines(this.queue, 0, excess);
      this.queue.splice(0, excess);
      this.queuedLines -= lines;
      this.skipped += lines;
    }
  }

  /** Render queued items (called once per animation frame). */
  flush() {
    if (this.queue.length === 0) return;
    if (!this.follow || this.touching) {
      this.updateJump();
      return;
    }
    const items = this.queue;
    this.setQueue([]);
    this.render(items);
    this.scrollToBottom();
  }

  render(items) {
    let start = 0;
    if (items.length >= this.cap || this.skipped) {
      // Everything rendered so far, and the oldest of these items, would be dropped at once: skip them.
      start = Math.max(0, items.length - this.cap);
      this.dropped += this.lines + this.skipped + countLines(items, 0, start);
      this.skipped = 0;
      this.clearList();
    }
    this.list.append(this.chunkOf(items, start));
    this.trim();
  }

  /** One chunk element per batch: layout and paint reuse the results of chunks that did not change. */
  chunkOf(items, start = 0, className = "chunk") {
    const chunk = document.createElement("div");
    chunk.className = className;
    for (let i = start; i < items.length; i++) {
      const item = items[i];
      const el = item.kind === "line" ? buildLine(item.data, this.ctx.matcher, this.ctx.columns, this.ctx.widths)
        : item.kind === "notice" ? buildNotice(item.data) : buildMarker(item.message);
      this.itemOf.set(el, item);
      if (item.kind === "line") this.lines++;
      chunk.append(el);
    }
    this.size += items.length - start;
    untab(chunk);
    return chunk;
  }

  // ---- scroll-back ------------------------------------------------------------------------------------

  /**
   * Call `fn` when the user wants older lines: a scroll to the top just after moving the view (the pane's
   * content moves the scroll position too: a big batch replaces the list), or a wheel up at the top.
   */
  onOlderWanted(fn) {
    this.olderWanted.push(fn);
  }

  wantOlder() {
    for (const fn of this.olderWanted) fn();
  }

  checkTop() {
    const recent = performance.now() - this.intentAt < INTENT_MS;
    if (recent && !this.follow && this.body.scrollTop <= TOP_PX) this.wantOlder();
  }

  /** Put `node` at the top of the scrolling body, above the lines (scroll-back's "load older" bar). */
  putAboveLines(node) {
    untab(node); // the pane stays one Tab stop: ArrowUp from the first line reaches it (linenav.js)
    this.body.prepend(node);
  }

  /** The id of the oldest line of `log` in the pane (the first in the DOM), if any. */
  oldestId(log) {
    const line = this.list.querySelector(`.line[data-log="${CSS.escape(log)}"][data-id]`);
    return line ? line.dataset.id : null;
  }

  /** The ids of the lines in the pane. */
  shownIds() {
    return new Set([...this.list.querySelectorAll(".line[data-id]")].map((line) => line.dataset.id));
  }

  /**
   * Put older items above the list, keeping in view what was in view. The cap holds: the newest entries
   * leave the DOM for the front of the queue (held, not lost) and come back on "jump to bottom".
   */
  prependItems(items, className) {
    if (items.length === 0) return;
    const height = this.body.scrollHeight;
    const top = this.body.scrollTop;
    this.list.prepend(this.chunkOf(items, 0, className));
    const added = this.body.scrollHeight - height;
    this.dropped = Math.max(0, this.dropped - countLines(items, 0, items.length));
    this.holdNewest();
    this.updateDropped();
    this.updateJump();
    this.body.scrollTop = top + added;
  }

  holdNewest() {
    const back = [];
    while (this.size > this.cap) {
      const chunk = this.list.lastElementChild;
      const entry = chunk?.lastElementChild;
      if (!entry) break;
      back.push(this.itemOf.get(entry) ?? { kind: "marker", message: entry.textContent });
      entry.remove();
      if (!chunk.firstElementChild) chunk.remove();
      this.size--;
      if (entry.classList.contains("line")) this.lines--;
    }
    if (back.length) this.setQueue([...back.reverse(), ...this.queue]);
  }

  /** Remove the oldest entries beyond the cap: whole chunks, then the start of the first one left. */
  trim() {
    let excess = this.size - this.cap;
    while (excess > 0 && this.list.firstElementChild) {
      const chunk = this.list.firstElementChild;
      const n = chunk.childElementCount;
      if (n <= excess) {
        this.forget(chunk.getElementsByClassName("line").length, n);
        chunk.remove();
        excess -= n;
      } else {
        let lines = 0;
        for (let i = 0; i < excess; i++) {
          const first = chunk.firstElementChild;
          if (first.classList.contains("line")) lines++;
          first.remove();
        }
        this.forget(lines, excess);
        excess = 0;
      }
    }
    this.updateDropped();
  }

  forget(lines, entries) {
    this.size -= entries;
    this.lines -= lines;
    this.dropped += lines;
  }

  setCap(cap) {
    this.cap = cap;
    this.trim();
    this.keepAtBottom();
  }

  clearList() {
    this.list.textContent = "";
    this.size = 0;
    this.lines = 0;
  }

  /** Empty the pane (rendered and queued), optionally leaving a marker saying why. */
  clear(message) {
    this.clearList();
    this.setQueue([]);
    this.dropped = 0;
    this.skipped = 0;
    this.follow = true;
    // A key or wheel turn just before "Clear view" is not a wish for older lines: without this, the empty,
    // scrolled-to-top pane had scroll-back load back everything just cleared.
    this.intentAt = -Infinity;
    if (message) this.enqueue({ kind: "marker", message });
    this.updateDropped();
    this.updateJump();
  }

  /** Remove one log's entries (merged view: "clear view" for that log). */
  clearLog(name) {
    this.setQueue(this.queue.filter((item) => item.data?.log !== name));
    for (const el of this.list.querySelectorAll(`[data-log="${CSS.escape(name)}"]`)) {
      if (el.classList.contains("line")) this.lines--;
      this.size--;
      el.remove();
    }
    for (const chunk of [...this.list.children]) if (!chunk.firstElementChild) chunk.remove();
    this.updateJump();
  }

  updateDropped() {
    this.droppedEl.hidden = this.dropped === 0;
    this.droppedEl.textContent = `${this.dropped} older line${this.dropped === 1 ? "" : "s"} dropped`;
  }

  updateJump() {
    const pending = this.queuedLines + this.skipped;
    const show = !this.follow;
    this.jump.hidden = !show;
    if (show) {
      this.jump.textContent = pending > 0
        ? `${pending} new line${pending === 1 ? "" : "s"} — jump to bottom`
        : "Jump to bottom";
    }
  }
}

function countLines(items, from, to) {
  let n = 0;
  for (let i = from; i < to; i++) if (items[i].kind === "line") n++;
  return n;
}
