// Copying text (a line, a link): the clipboard API where the page may use it, else the old execCommand,
// else the text selected for Ctrl+C; and the toast that says which happened.

import { el } from "./page.js";

const TOAST_MS = 1800;

let toastTimer = 0;

/** Copy `text`; `node` (optional) is selected instead when nothing can copy; `done` is the toast's text. */
export async function copyText(text, node, done) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      toast(done);
      return;
    } catch {
      // denied: fall back below
    }
  }
  if (copyWithCommand(text)) {
    toast(done);
  } else if (node) {
    const range = document.createRange();
    range.selectNodeContents(node);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    toast("Selected: press Ctrl+C to copy");
  } else {
    toast("Copy the address from the address bar");
  }
}

function copyWithCommand(text) {
  const area = el("textarea", "offscreen");
  area.value = text;
  area.readOnly = true;
  document.body.append(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

/** Show `text` for a moment at the bottom of the page. */
export function toast(text) {
  const box = document.getElementById("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, TOAST_MS);
}
