// The keyboard inside a pane. A pane is one Tab stop however many lines it holds: its scrolling body, or once
// the user has moved to an entry (a line, a notice, a marker), that entry (a roving tabindex). The controls
// inside the entries (a JSON line's toggle, field cells, "+N lines", copy, link) are taken out of the Tab
// order when rendered and reached with the arrow keys instead:
//   ArrowUp / ArrowDown     the previous / next entry (from the body: the last / first entry in view; up
//                           from the first entry: scroll-back's "Load older lines" button)
//   PageUp / PageDown       about one screen of entries up / down
//   Home / End              the first / last entry (End follows the log again)
//   ArrowRight / ArrowLeft  the next / previous control of the entry (its copy and link buttons included)
//   Enter                   on an entry: opens or closes its JSON view or its "+N lines"

const ENTRY = ".line, .notice, .marker";
const CONTROLS = "button, summary, a[href], input, select, textarea, [tabindex]";
const PAGE_FRACTION = 0.9; // PageUp/PageDown move by this much of the visible height
const MAX_PAGE_STEPS = 2000; // entries walked for one PageUp/PageDown at most

const RENDERED_CONTROLS = ["button", "summary", "a"]; // what render.js puts in lines (and scroll-back's bar)

/** Take the controls of freshly rendered entries out of the Tab order (arrow keys reach them). Measured in
 * Chromium on a loaded machine: 4-11 % of the time to build the same lines (most of it setting tabIndex). */
export function untab(root) {
  for (const tag of RENDERED_CONTROLS) {
    for (const node of root.getElementsByTagName(tag)) node.tabIndex = -1;
  }
}

export class LineNav {
  /**
   * @param {{body: HTMLElement, list: HTMLElement, copy: HTMLElement, link: HTMLElement,
   *   jumpToBottom: Function}} pane  the pane (pane.js): its scrolling body, its list of chunks of entries,
   *   its copy and link buttons (moved to the entry in focus) and its "follow again"
   */
  constructor(pane) {
    this.pane = pane;
    this.body = pane.body;
    this.list = pane.list;
    this.current = null; // the entry that is the pane's Tab stop, if any
    pane.copy.tabIndex = -1;
    pane.link.tabIndex = -1;
    // The current entry may leave the DOM (the line cap, "Clear view", a new stream): the body is then the
    // Tab stop again, so the pane never loses its place in the Tab order.
    this.watcher = new MutationObserver(() => {
      if (this.current && !this.current.isConnected) this.reset();
    });
    this.body.addEventListener("keydown", (e) => this.onKey(e));
    this.list.addEventListener("focusin", (e) => {
      const entry = e.target instanceof Element ? e.target.closest(ENTRY) : null;
      if (entry && this.list.contains(entry)) this.setCurrent(entry);
    });
  }

  destroy() {
    this.watcher.disconnect();
  }

  reset() {
    this.current = null;
    this.watcher.disconnect();
    this.body.tabIndex = 0;
  }

  setCurrent(entry) {
    if (this.current !== entry) {
      this.current?.removeAttribute("tabindex");
      this.current = entry;
      entry.tabIndex = 0;
      this.body.tabIndex = -1;
      this.watcher.observe(this.list, { childList: true, subtree: true });
    }
    // The copy and link buttons follow the keyboard as they follow the pointer.
    if (!entry.classList.contains("line")) return;
    if (this.pane.copy.parentNode !== entry) entry.append(this.pane.copy);
    if (entry.dataset.id && this.pane.link.parentNode !== entry) entry.append(this.pane.link);
  }

  onKey(e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    const target = e.target instanceof Element ? e.target : null;
    const entry = target && target !== this.body ? target.closest(ENTRY) : null;
    let to;
    if (entry && this.list.contains(entry)) to = this.fromEntry(e.key, entry, target);
    else if (target === this.body) to = this.fromBody(e.key);
    else if (target && this.isAbove(target)) to = e.key === "ArrowDown" ? this.first() : undefined;
    if (to === undefined) return; // not a key of ours: scrolling and the page's shortcuts go on as usual
    e.preventDefault();
    if (to) this.focus(to);
  }

  /** Where a key moves from the body (no entry chosen yet); undefined when it is not ours. */
  fromBody(key) {
    if (key === "Home") return this.first();
    if (key === "End") return this.end();
    if (key === "ArrowUp" || key === "PageUp") return this.inView(false) ?? this.last();
    if (key === "ArrowDown" || key === "PageDown") return this.inView(true) ?? this.first();
    return undefined;
  }

  /** Where a key moves from an entry or one of its controls; undefined when it is not ours. */
  fromEntry(key, entry, target) {
    switch (key) {
      case "ArrowDown": return step(entry, 1);
      case "ArrowUp": return step(entry, -1) ?? this.above();
      case "PageDown": return this.page(entry, 1);
      case "PageUp": return this.page(entry, -1);
      case "Home": return this.first();
      case "End": return this.end();
      case "ArrowRight": return this.control(entry, target, 1);
      case "ArrowLeft": return this.control(entry, target, -1);
      case "Enter":
        if (target !== entry) return undefined; // a control: the browser activates it
        entry.querySelector("summary, .more-lines")?.click();
        return null;
      default: return undefined;
    }
  }

  /** A control above the lines (scroll-back's "Load older lines"), if one is shown. */
  above() {
    const node = [...this.body.querySelectorAll(CONTROLS)].find((c) => this.isAbove(c) && visible(c));
    return node ?? null;
  }

  isAbove(node) {
    return this.body.contains(node) && !this.list.contains(node) && node !== this.body;
  }

  first() {
    return this.list.querySelector(ENTRY);
  }

  last() {
    const all = this.list.lastElementChild?.children;
    return all?.length ? all[all.length - 1] : null;
  }

  /** End: follow the log again, and stand on its last entry. */
  end() {
    this.pane.jumpToBottom();
    return this.last();
  }

  /** The first (top) or last (bottom) entry visible in the body. */
  inView(top) {
    const box = this.body.getBoundingClientRect();
    const list = this.list.getBoundingClientRect();
    const x = list.left + Math.min(list.width / 2, 40);
    const y = top ? Math.max(box.top, list.top) + 4 : Math.min(box.bottom, list.bottom) - 4;
    const hit = document.elementFromPoint(x, y)?.closest(ENTRY);
    return hit && this.list.contains(hit) ? hit : null;
  }

  /** The entry about one visible height away from `entry` (or the last one walked). */
  page(entry, dir) {
    const height = this.body.clientHeight * PAGE_FRACTION;
    const start = entry.getBoundingClientRect().top;
    let at = entry;
    for (let i = 0; i < MAX_PAGE_STEPS; i++) {
      const next = step(at, dir);
      if (!next) break;
      at = next;
      if (Math.abs(at.getBoundingClientRect().top - start) >= height) break;
    }
    return at;
  }

  /** The next or previous control of the entry, the entry itself before the first. */
  control(entry, target, dir) {
    const stops = [entry, ...[...entry.querySelectorAll(CONTROLS)].filter(visible)];
    const at = stops.indexOf(target);
    return stops[Math.min(stops.length - 1, Math.max(0, at + dir))];
  }

  focus(node) {
    if (node.matches(ENTRY)) this.setCurrent(node);
    node.focus({ preventScroll: true });
    node.scrollIntoView({ block: "nearest" });
  }
}

/** The entry before or after `entry` in the pane (across chunks), or null. */
function step(entry, dir) {
  let next = dir > 0 ? entry.nextElementSibling : entry.previousElementSibling;
  let chunk = entry.parentElement;
  while (!next && chunk) {
    chunk = dir > 0 ? chunk.nextElementSibling : chunk.previousElementSibling;
    next = chunk ? (dir > 0 ? chunk.firstElementChild : chunk.lastElementChild) : null;
  }
  return next;
}

function visible(node) {
  return node.getClientRects().length > 0 && !node.closest("[hidden]");
}
