// A <details> drop-down menu (the Columns picker): opened, it stays inside the window (it opens leftwards
// when it would run past the right edge, across the window when neither way fits); Escape closes it and puts
// the focus back on its summary.

const EDGE_PX = 8; // room kept between the menu and the window's edge

/**
 * @param {HTMLDetailsElement} details  the menu: its <summary> opens it, `panel` is what drops down
 * @param {HTMLElement} panel
 */
export function bindMenu(details, panel) {
  details.addEventListener("toggle", () => {
    if (details.open) keepInside(panel);
  });
  details.addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || !details.open) return;
    e.preventDefault();
    e.stopPropagation(); // the menu's Escape, not the page's
    details.open = false;
    details.querySelector("summary")?.focus();
  });
}

/** Open rightwards if it fits, else leftwards, else across the window (from edge to edge, less a margin). */
function keepInside(panel) {
  panel.classList.remove("menu-end", "menu-across");
  const width = document.documentElement.clientWidth;
  if (panel.getBoundingClientRect().right <= width - EDGE_PX) return;
  panel.classList.add("menu-end");
  if (panel.getBoundingClientRect().left >= EDGE_PX) return;
  panel.classList.replace("menu-end", "menu-across");
}
