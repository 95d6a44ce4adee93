// Each log's colour (its tag, swatch and chip). A colour goes with a log's place among the logs shown
// together, not with a hash of its name: a hash gives two hosts' `app.log@web1` and `app.log@web2` the same
// or a near-identical colour as often as not. The palette (app.css, --c0 to --c11, both themes) is ordered
// so that neighbours differ most: the first twelve logs of a view all differ, and each from the next.

export const PALETTE_SIZE = 12;

let slots = new Map(); // log name -> palette slot, for the logs of the view

/** The logs of the view, in their order (the URL's): they take the palette's colours in turn. */
export function setViewLogs(names) {
  slots = new Map();
  for (const name of names) if (!slots.has(name)) slots.set(name, slots.size % PALETTE_SIZE);
}

/** The colour class of a log: `c0`..`c11` in the view, `c-none` (no colour of its own) outside it. */
export function colourClass(name) {
  const slot = slots.get(name);
  return slot === undefined ? "c-none" : `c${slot}`;
}
