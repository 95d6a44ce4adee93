// A <details> drop-down menu (the Columns picker): opened, it stays inside the window (it opens leftwards
// when it would run past the right edge, across the window when neither way fits); Escape closes it and puts
// the focus back on its summary. The browser tells of the opening after it happened (the "toggle" event comes
// later), so the panel stays invisible until it is placed (`.placed`, panes.css): never a frame past the edge.

const EDGE_PX = 8; // room kept between the menu and the window's edge

/**
 * @param {HTMLDetailsElement} details  the menu: its <summary> opens it, `panel` is what drops down
 * @param {HTMLElement} panel
 */
export function bindMenu(details, panel) {
  details.addEventListener("toggle", () => {
    if (details.open) keepInside(panel);
    else panel.classList.remove("placed");
  });
  details.addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || !details.open) return;
    e.preventDefault();
    e.stopPropagation(); // the menu's Escape, not the page's
    details.open = false;
    details.querySelector("summary")?.focus();
  });
}

function keepInside(panel) {
  panel.classList.remove("menu-end", "menu-across");
  place(panel);
  panel.classList.add("placed");
}

/** Open rightwards if it fits, else leftwards, else across the window (from edge to edge, less a margin). */
function place(panel) {
  const width = document.documentElement.clientWidth;
  if (panel.getBoundingClientRect().right <= width - EDGE_PX) return;
  panel.classList.add("menu-end");
  if (panel.getBoundingClientRect().left >= EDGE_PX) return;
  panel.classList.replace("menu-end", "menu-across");
}
