// The toolbar above the panes: the text filter and its options, the levels, since, the field filters (as
// removable chips) and the columns picked, the view mode, wrapping and the line cap. It shows the view
// state and changes it; what a change means (a new stream, panes laid out again) is the handlers' job.

import { isFieldFilter } from "./fields.js";
import { bindMenu } from "./menus.js";
import { debounce } from "./page.js";
import { clampLines } from "./state.js";

const FILTER_DEBOUNCE_MS = 300;
const SINCE_CHOICES = ["", "5m", "1h", "24h"];

export class Controls {
  /**
   * @param {object} state  the view state (state.js), changed here as the user edits the controls
   * @param {import("./fields.js").KeyTracker} keys  the field keys seen, offered as columns
   * @param {{onFilter: Function, onLayout: Function, onWrap: Function, onMaxLines: Function, onError: Function}}
   *   handlers  onFilter(reason): the server's filter changed; onLayout(): view mode or columns changed;
   *   onWrap(), onMaxLines(); onError(text): a field filter that is not KEY OP VALUE
   */
  constructor(state, keys, handlers) {
    const $ = (id) => document.getElementById(id);
    this.state = state;
    this.keys = keys;
    this.handlers = handlers;
    this.form = $("filters");
    this.filter = $("filter");
    this.regex = $("opt-regex");
    this.ignoreCase = $("opt-ignore-case");
    this.invert = $("opt-invert");
    this.wrap = $("opt-wrap");
    this.maxLines = $("opt-max-lines");
    this.since = $("opt-since");
    this.sinceCustom = $("opt-since-custom");
    this.fieldAdd = $("field-add");
    this.fieldChips = $("field-chips");
    this.columns = $("columns");
    this.columnList = $("column-list");
  }

  /** Set the controls from the view state. */
  show() {
    const state = this.state;
    this.filter.value = state.q;
    this.regex.checked = state.regex;
    this.ignoreCase.checked = state.ignoreCase;
    this.invert.checked = state.invert;
    this.wrap.checked = state.wrap;
    this.maxLines.value = String(state.maxLines);
    for (const box of this.levelBoxes()) box.checked = state.levels.includes(box.value);
    for (const radio of this.form.querySelectorAll('input[name="view"]')) radio.checked = radio.value === state.view;
    const preset = SINCE_CHOICES.includes(state.since);
    this.since.value = preset ? state.since : "custom";
    this.sinceCustom.hidden = preset;
    this.sinceCustom.value = preset ? "" : state.since;
    renderChips(this.fieldChips, state.fields);
  }

  levelBoxes() {
    return this.form.querySelectorAll('input[name="level"]');
  }

  bind() {
    this.bindFilter();
    this.bindLayout();
    this.bindSince();
    this.bindFields();
  }

  bindFilter() {
    const apply = debounce(() => {
      this.readFilter();
      this.handlers.onFilter("filter changed");
    }, FILTER_DEBOUNCE_MS);
    this.filter.addEventListener("input", () => apply());
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      apply.now();
    });
    for (const box of [this.regex, this.ignoreCase, this.invert]) box.addEventListener("change", () => apply.now());
    for (const box of this.levelBoxes()) {
      box.addEventListener("change", () => {
        if (!this.form.querySelector('input[name="level"]:checked')) box.checked = true; // never "no level"
        apply.now();
      });
    }
  }

  readFilter() {
    const state = this.state;
    state.q = this.filter.value;
    state.regex = this.regex.checked;
    state.ignoreCase = this.ignoreCase.checked;
    state.invert = this.invert.checked;
    state.levels = [...this.form.querySelectorAll('input[name="level"]:checked')].map((box) => box.value);
  }

  bindLayout() {
    for (const radio of this.form.querySelectorAll('input[name="view"]')) {
      radio.addEventListener("change", () => {
        this.state.view = radio.value === "split" ? "split" : "merged";
        this.handlers.onLayout();
      });
    }
    this.wrap.addEventListener("change", () => {
      this.state.wrap = this.wrap.checked;
      this.handlers.onWrap();
    });
    this.maxLines.addEventListener("change", () => {
      this.state.maxLines = clampLines(this.maxLines.value, this.state.maxLines);
      this.maxLines.value = String(this.state.maxLines);
      this.handlers.onMaxLines();
    });
  }

  /** Put the text filter's cursor in the box, its text selected (the "/" key). */
  focusFilter() {
    this.filter.focus();
    this.filter.select();
  }

  // ---- since --------------------------------------------------------------------------------------------

  bindSince() {
    this.since.addEventListener("change", () => {
      const custom = this.since.value === "custom";
      this.sinceCustom.hidden = !custom;
      if (custom) this.sinceCustom.focus();
      else this.setSince(this.since.value);
    });
    this.sinceCustom.addEventListener("keydown", (e) => {
      if (e.key !== "Enter") return;
      e.preventDefault();
      this.setSince(this.sinceCustom.value);
    });
  }

  setSince(value) {
    this.state.since = value.trim();
    this.handlers.onFilter(this.state.since ? `since ${this.state.since}` : "since cleared");
  }

  // ---- field filters and columns ------------------------------------------------------------------------

  bindFields() {
    this.fieldAdd.addEventListener("keydown", (e) => {
      if (e.key !== "Enter") return;
      e.preventDefault();
      const expr = this.fieldAdd.value.trim();
      if (!expr) return;
      this.fieldAdd.value = "";
      this.addField(expr);
    });
    this.fieldChips.addEventListener("click", (e) => {
      const chip = e.target instanceof Element ? e.target.closest(".field-chip") : null;
      if (chip) this.removeField(Number(chip.dataset.index));
    });
    this.columns.addEventListener("toggle", () => {
      if (this.columns.open) renderColumnPicker(this.columnList, this.keys.keys, this.state.columns);
    });
    bindMenu(this.columns, this.columnList); // after the picker is filled: it measures it
    this.columnList.addEventListener("change", () => {
      this.state.columns = [...this.columnList.querySelectorAll("input:checked")].map((box) => box.value);
      this.handlers.onLayout(); // lines already shown are drawn again with the new columns
    });
  }

  /** Add the field filter KEY OP VALUE (typed, or a clicked cell's key:value). */
  addField(expr) {
    if (!isFieldFilter(expr)) {
      this.handlers.onError(`field: ${JSON.stringify(expr)} is not KEY OP VALUE (e.g. status>=500, user:alice, path~^/api/)`);
      return;
    }
    if (!this.state.fields.includes(expr)) this.state.fields = [...this.state.fields, expr];
    renderChips(this.fieldChips, this.state.fields);
    this.handlers.onFilter("field filter added");
  }

  removeField(index) {
    this.state.fields = this.state.fields.filter((_, i) => i !== index);
    renderChips(this.fieldChips, this.state.fields);
    // The removed chip had the focus: give it to the chip now in its place, else the one before, else the box.
    const chips = this.fieldChips.querySelectorAll(".field-chip");
    (chips[index] ?? chips[index - 1] ?? this.fieldAdd).focus();
    this.handlers.onFilter("field filter removed");
  }
}

/** One removable chip per active field filter. */
function renderChips(container, filters) {
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
function renderColumnPicker(list, keys, columns) {
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
