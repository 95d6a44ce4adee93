// The stream's items on their way to the panes: their field keys noted for the column picker, held (and
// counted) while the user has paused, and rendered once per animation frame however fast they come.

export class Feed {
  /**
   * @param {import("./panes.js").Panes} panes
   * @param {import("./fields.js").KeyTracker} keys
   * @param {Function} onPause  called after pausing or resuming
   */
  constructor(panes, keys, onPause) {
    this.panes = panes;
    this.keys = keys;
    this.onPause = onPause;
    this.pauseButton = document.getElementById("pause");
    this.heldEl = document.getElementById("held");
    this.paused = false;
    this.held = []; // items received while paused
    this.heldLines = 0;
    this.frameRequested = false;
  }

  /** An item of the stream: {kind: "line" | "notice", data}. */
  receive(item) {
    if (item.kind === "line" && typeof item.data?.text === "string") this.keys.note(item.data.text, item.data.fields);
    if (this.paused) {
      this.held.push(item);
      if (item.kind === "line") this.heldLines++;
    } else {
      this.panes.receive(item);
    }
    this.requestFrame();
  }

  /** Drop what is held (a new stream starts). */
  drop() {
    this.held = [];
    this.heldLines = 0;
    this.showHeld();
  }

  togglePause() {
    this.paused = !this.paused;
    if (!this.paused) {
      const items = this.held;
      this.held = [];
      this.heldLines = 0;
      for (const item of items) this.receive(item);
    }
    this.pauseButton.textContent = this.paused ? "Resume" : "Pause";
    this.pauseButton.setAttribute("aria-pressed", String(this.paused));
    document.body.classList.toggle("paused", this.paused);
    this.showHeld();
    this.onPause();
    this.requestFrame();
  }

  requestFrame() {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      this.panes.flush();
      this.showHeld();
    });
  }

  showHeld() {
    this.heldEl.hidden = !this.paused;
    this.heldEl.dataset.count = String(this.heldLines);
    const text = `paused — ${this.heldLines} held`;
    if (this.heldEl.textContent !== text) this.heldEl.textContent = text;
  }
}
