// The Logs drawer of narrow windows: the sidebar slides in over the page behind its button. While closed it
// keeps no Tab stop (the stylesheet hides it); opened, it takes the focus; Escape closes it and gives the
// focus back to its button.

/**
 * @param {HTMLButtonElement} button  the "Logs" button (shown in narrow windows only)
 * @param {HTMLElement} drawer  the sidebar
 * @param {string} openClass  the <body> class that opens it
 */
export function bindDrawer(button, drawer, openClass) {
  const isOpen = () => document.body.classList.contains(openClass);
  const set = (open) => {
    document.body.classList.toggle(openClass, open);
    button.setAttribute("aria-expanded", String(open));
  };
  button.addEventListener("click", () => {
    set(!isOpen());
    if (isOpen()) firstControl(drawer)?.focus();
  });
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || !isOpen() || !isDrawer(button)) return;
    e.preventDefault();
    set(false);
    button.focus();
  });
}

/** In a wide window the button is hidden and the sidebar is no drawer: Escape is left to others there. */
function isDrawer(button) {
  return button.getClientRects().length > 0;
}

function firstControl(root) {
  return root.querySelector("input, button, a[href], select, summary, [tabindex]:not([tabindex='-1'])");
}
