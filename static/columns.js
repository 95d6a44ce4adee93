// Field columns laid out as an aligned grid: every row's cells, and the header row naming them, take their
// widths from custom properties on the panes' container (--col-0, --col-1, ... and --tag-ch, in characters
// of the monospace font), so a column is as wide as its longest value seen so far (capped), in every row
// at once. Set through the CSSOM, which the Content-Security-Policy allows (it refuses style attributes).

import { el } from "./page.js";

const MIN_CHARS = 3;
const MAX_CHARS = 28; // a longer value is cut with an ellipsis (its title shows it whole)
const MAX_TAG_CHARS = 32;

export class ColumnWidths {
  /** @param {HTMLElement} container  the panes' container, whose custom properties the rows read */
  constructor(container) {
    this.container = container;
    this.widths = [];
    this.changed = false;
  }

  /** Start again for `columns` (their names are their first widths) and the logs whose tags lead the rows. */
  reset(columns, logs) {
    for (let i = 0; i < this.widths.length; i++) this.container.style.removeProperty(`--col-${i}`);
    this.widths = columns.map((key) => clamp(key.length));
    const tag = Math.max(3, ...logs.map((name) => name.length));
    this.container.style.setProperty("--tag-ch", String(Math.min(tag, MAX_TAG_CHARS)));
    this.changed = true;
    this.apply();
  }

  /** A value of `chars` characters in column `i`: the column grows to it (applied on the next frame). */
  note(i, chars) {
    const want = clamp(chars);
    if (i < this.widths.length && want > this.widths[i]) {
      this.widths[i] = want;
      this.changed = true;
    }
  }

  /** Write the widths that changed (once per frame: one style recalculation for all the rows). */
  apply() {
    if (!this.changed) return;
    this.changed = false;
    this.widths.forEach((w, i) => this.container.style.setProperty(`--col-${i}`, `${w}ch`));
  }
}

function clamp(chars) {
  return Math.min(MAX_CHARS, Math.max(MIN_CHARS, chars));
}

/** The header row above a pane's lines: a blank over the log tags, then each column's name. */
export function columnsHeader(columns) {
  const head = el("div", "cols-head");
  head.setAttribute("aria-hidden", "true"); // each cell says its key in its title and data-key already
  const cells = el("span", "cells");
  for (const key of columns) {
    const cell = el("span", "cell cell-head", key);
    cell.title = key;
    cells.append(cell);
  }
  head.append(el("span", "tag cols-log", "log"), cells, el("span", "cols-rest", "line"));
  return head;
}
